/* The smallest framework op library: it links libswiftgram_core.so as the TensorFlow, XLA
 * and torch ops do, and reads and sets the core's thread setting, so a test can tell
 * whether it shares one core with the Python extension. */
#include "swiftgram.h"

__attribute__((visibility("default"))) int64_t op_get_num_threads(void) { return sg_get_num_threads(); }
__attribute__((visibility("default"))) void op_set_num_threads(int64_t n) { sg_set_num_threads(n); }
