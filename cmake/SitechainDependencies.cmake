# Finds every third-party dependency once. All come from Debian packages that
# scripts/install-deps installs; nothing is downloaded at configure time.
find_package(PkgConfig REQUIRED)
pkg_check_modules(BOTAN REQUIRED IMPORTED_TARGET botan-2)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(Threads REQUIRED)
if(SITECHAIN_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(SITECHAIN_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
find_package(SQLite3 REQUIRED)
find_package(spdlog REQUIRED)
# Debian's gRPC ships a CMake config; the protoc plugin comes from protobuf-compiler-grpc.
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
