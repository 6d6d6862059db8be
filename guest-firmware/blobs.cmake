# The list of guest blobs: kvpc_guest_blob(<symbol> <source.asm>). Each symbol gets an
# accessor kvpc::firmware::<symbol>() declared in blobs.h.
