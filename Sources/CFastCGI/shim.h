#include <fcgiapp.h>
#include <fcgios.h>
