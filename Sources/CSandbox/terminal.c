// A terminal's window size, set on its master from the host: Swift cannot call the variadic
// ioctl(2) with a struct. The kernel sends SIGWINCH to the terminal's foreground process group.
#include "csandbox.h"

#include <errno.h>
#include <sys/ioctl.h>

int csb_set_window_size(int fd, unsigned short columns, unsigned short rows) {
    struct winsize size = {.ws_row = rows, .ws_col = columns};
    return ioctl(fd, TIOCSWINSZ, &size) < 0 ? errno : 0;
}

int csb_get_window_size(int fd, unsigned short *columns, unsigned short *rows) {
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) < 0) return errno;
    *columns = size.ws_col;
    *rows = size.ws_row;
    return 0;
}
