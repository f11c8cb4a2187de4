# Conan 2 recipe for the header-only package. Conan Center cannot be reached from the
# development machines, so this recipe is kept consistent with `cmake --install` by hand:
# it packages the same include/ tree and lets CMakeDeps generate the config files.
from conan import ConanFile
from conan.tools.files import copy
import os


class CompressConan(ConanFile):
    name = "compress"
    version = "0.1.0"
    license = "MIT"
    description = ("Header-only C++17 neural-network compression: pruning, quantization, "
                   "distillation, fusion and xsimd kernels for the compressed weights")
    topics = ("pruning", "quantization", "neural-networks", "simd", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    exports_sources = "include/*", "LICENSE"
    no_copy_source = True

    def requirements(self):
        self.requires("xtensor/0.24.3")
        self.requires("xsimd/8.1.0")
        self.requires("xtl/0.7.2")

    def package_id(self):
        self.info.clear()

    def package(self):
        copy(self, "*.hpp", src=os.path.join(self.source_folder, "include"),
             dst=os.path.join(self.package_folder, "include"))
        copy(self, "LICENSE", src=self.source_folder, dst=os.path.join(self.package_folder, "licenses"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "compress")
        self.cpp_info.set_property("cmake_target_name", "compress::compress")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.defines = ["XTENSOR_USE_XSIMD"]
        self.cpp_info.requires = ["xtensor::xtensor", "xsimd::xsimd", "xtl::xtl"]
