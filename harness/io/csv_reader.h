// fast-cpp-csv-parser (Debian's libfccp), included in one place: its header trips GCC 12's
// -Wstringop-truncation on a deliberate strncpy of file names.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-truncation"
#include <libfccp/csv.h>
#pragma GCC diagnostic pop
