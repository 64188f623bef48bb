#ifndef CAULK_LIBSSH2_SHIM_H
#define CAULK_LIBSSH2_SHIM_H

#include <libssh2.h>

// libssh2 spells several calls as macros, which Swift cannot import; these are the same calls.

static inline LIBSSH2_SESSION *caulk_session_init(void) {
    return libssh2_session_init_ex(NULL, NULL, NULL, NULL);
}

static inline LIBSSH2_CHANNEL *caulk_channel_open_session(LIBSSH2_SESSION *session) {
    return libssh2_channel_open_ex(session, "session", sizeof("session") - 1,
                                   LIBSSH2_CHANNEL_WINDOW_DEFAULT, LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
}

static inline int caulk_channel_exec(LIBSSH2_CHANNEL *channel, const char *command, unsigned int length) {
    return libssh2_channel_process_startup(channel, "exec", sizeof("exec") - 1, command, length);
}

static inline ssize_t caulk_channel_read_stdout(LIBSSH2_CHANNEL *channel, char *buffer, size_t length) {
    return libssh2_channel_read_ex(channel, 0, buffer, length);
}

static inline ssize_t caulk_channel_read_stderr(LIBSSH2_CHANNEL *channel, char *buffer, size_t length) {
    return libssh2_channel_read_ex(channel, SSH_EXTENDED_DATA_STDERR, buffer, length);
}

static inline ssize_t caulk_channel_write(LIBSSH2_CHANNEL *channel, const char *buffer, size_t length) {
    return libssh2_channel_write_ex(channel, 0, buffer, length);
}

static inline int caulk_session_disconnect(LIBSSH2_SESSION *session, const char *reason) {
    return libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, reason, "");
}

#endif
