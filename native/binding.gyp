{
  "targets": [
    {
      "target_name": "troupe_native",
      "sources": ["src/addon.cc", "src/reduce.cc", "src/shm.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions"],
      "cflags_cc!": ["-O2", "-fno-rtti"],
      "libraries": ["-lrt"]
    }
  ]
}
