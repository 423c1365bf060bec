/* SPDX-License-Identifier: MIT */
/* Project error codes: functions return 0 (or a count), -errno, or -SD_E*. */
#ifndef SHAKEDOWN_ERR_H
#define SHAKEDOWN_ERR_H

#define SD_WUR __attribute__((warn_unused_result))

/* Project codes start well above any errno value. */
enum {
	SD_EBASE = 4096,
	SD_ETRUNC,     /* input ended before a field it announces */
	SD_ELENGTH,    /* a length prefix disagrees with what it encloses */
	SD_EVALUE,     /* a field holds a value its specification forbids */
	SD_EDUP,       /* a value that must be unique appears twice */
	SD_ETYPE,      /* a message or record of an unexpected type */
	SD_ELIMIT,     /* more items than this tool keeps (see the module) */
	SD_EUNKNOWN,   /* a name that is not in the catalogue */
	SD_ESYNTAX,    /* a spec or flag that does not parse */
	SD_EFORMAT,    /* not a format this tool reads */
	SD_ENOHELLO,   /* no ClientHello in the input */
	SD_ECRYPTO,    /* the crypto library failed */
	SD_ESNAPLEN,   /* a capture cut packets shorter than they were */
	SD_EMAX
};

/* Message for a negative return value (-errno or -SD_E*). Never NULL. */
const char *sd_strerror(int err);

#endif
