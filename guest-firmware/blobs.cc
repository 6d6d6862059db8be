// Anchors kvpc_guest_firmware so the library exists even before any blob is listed.
#include "guest-firmware/blobs.h"
