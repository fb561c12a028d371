/* docs_check: the standard headers a documentation block may use without
 * including them (see tests/docs_check.sh).  "alone" blocks get only these. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
