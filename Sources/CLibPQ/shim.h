#ifndef OAUTHQ_CLIBPQ_SHIM_H
#define OAUTHQ_CLIBPQ_SHIM_H
// libpq 15 (Debian libpq-dev); pkg-config libpq adds -I/usr/include/postgresql.
#include <libpq-fe.h>

/// `PG_DIAG_*` are char-literal macros that Swift does not import; re-exported as constants.
static const int CLIBPQ_DIAG_SQLSTATE = 'C';
static const int CLIBPQ_DIAG_MESSAGE_PRIMARY = 'M';
static const int CLIBPQ_DIAG_MESSAGE_DETAIL = 'D';
static const int CLIBPQ_DIAG_MESSAGE_HINT = 'H';
static const int CLIBPQ_DIAG_CONSTRAINT_NAME = 'n';
static const int CLIBPQ_DIAG_SEVERITY = 'V';

#endif
