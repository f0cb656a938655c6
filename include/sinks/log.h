/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Messages for people on stderr: "nftally: ..." on a terminal, with the
 * syslog priority prefix ("<3>") the journal understands when systemd
 * connected stderr to it. */
#ifndef NFTALLY_LOG_H
#define NFTALLY_LOG_H

enum log_prio { LOG_PRIO_ERR = 3, LOG_PRIO_WARNING = 4, LOG_PRIO_NOTICE = 5, LOG_PRIO_INFO = 6 };

void log_msg(enum log_prio prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
