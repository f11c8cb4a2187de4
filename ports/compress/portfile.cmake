# vcpkg port for the header-only package; installs exactly what `cmake --install` installs.
# For an overlay port built from a local checkout set COMPRESS_SOURCE_DIR, otherwise the
# release archive is fetched (vcpkg's registry cannot be reached from the development machines).
if(DEFINED ENV{COMPRESS_SOURCE_DIR})
  set(SOURCE_PATH "$ENV{COMPRESS_SOURCE_DIR}")
else()
  vcpkg_from_github(
    OUT_SOURCE_PATH SOURCE_PATH
    REPO compress-nn/compress
    REF v${VERSION}
    SHA512 0
    HEAD_REF main)
endif()

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DCOMPRESS_BUILD_TESTS=OFF
    -DCOMPRESS_BUILD_BENCHMARKS=OFF
    -DCOMPRESS_BUILD_EXAMPLES=OFF
    -DCOMPRESS_BUILD_TOOLS=OFF)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME compress CONFIG_PATH share/cmake/compress)
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
