"""libsbert as a system library, and the README's C example (issue 17).

- The README's C block is examples/quickstart.c, which runs on a 1024-wide model (in the tree,
  under ASan in `make test-asan`).
- `make install DESTDIR=<tmp> PREFIX=/usr/local` installs the header, libsbert.a,
  libsbert.so.VERSION with SONAME libsbert.so.MAJOR and its symlinks, sbert.pc, the CMake package
  and sbert-encode / sbert-rerank; examples/quickstart.c is built against that copy through
  `pkg-config --cflags --libs sbert` and through CMake's find_package(sbert), each with the .so and
  with the .a, and run; `make uninstall` leaves no file behind.
A missing tool (pkg-config, cmake, readelf) is reported as SKIP with the reason, and the program
exits 77, which tests/run.sh counts as skipped, not passed.
ENCODE names the encode binary (its folder holds the examples), BUILD the build directory."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD = os.environ.get("BUILD", "build")
ENCODE = os.environ.get("ENCODE", "examples/encode")
EXDIR = os.path.dirname(ENCODE) or "."
WIDE = os.path.join(BUILD, "models", "wide-1024.sbert")
EXAMPLE = os.path.join("examples", "quickstart.c")
MAKE = os.environ.get("MAKE", "make")
SKIPPED = []


def header_version():
    with open(os.path.join("include", "sbert.h")) as f:
        return re.search(r'#define SBERT_VERSION_STRING "([0-9.]+)"', f.read()).group(1)


def soname_version(version):
    """The part of the version in the SONAME: the major, or before 1.0 "0.minor" (each 0.x minor
    may change the ABI)."""
    major, minor = version.split(".")[:2]
    return major if major != "0" else "0." + minor


def check(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(cmd), out.returncode, out.stdout,
                                                        out.stderr))
    return out.stdout


def skip(what, why):
    SKIPPED.append(what)
    print("SKIP: %s: %s" % (what, why))


def needed_libraries(program):
    dyn = check(["readelf", "-d", program])
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn)


class ReadmeExample(unittest.TestCase):
    def test_readme_shows_the_example_file(self):
        with open("README.md", encoding="utf-8") as f:
            readme = f.read()
        with open(EXAMPLE, encoding="utf-8") as f:
            source = f.read()
        blocks = re.findall(r"```c\n(.*?)```", readme, re.S)
        self.assertIn(source, blocks, "README's C example is not examples/quickstart.c")

    def test_runs_on_a_1024_wide_model(self):
        out = check([os.path.join(EXDIR, "quickstart"), WIDE])
        self.assertRegex(out, r"^libsbert %s: 2 texts, dim 1024, cosine similarity -?[01]\.\d{4}\n$"
                         % re.escape(header_version()))


    def test_default_model_is_in_the_repository(self):
        out = check([os.path.join(EXDIR, "quickstart")])  # models/ko-small-f16.sbert, committed
        self.assertRegex(out, r"^libsbert [0-9.]+: 2 texts, dim 256, ")

    def test_in_tree_programs_need_no_library_path(self):
        if not shutil.which("readelf"):
            return skip("in-tree linking", "readelf is not installed (Debian: binutils)")
        for name in ("encode", "quickstart"):
            program = os.path.join(EXDIR, name)
            self.assertFalse([lib for lib in needed_libraries(program) if "sbert" in lib], program)
            env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
            self.assertEqual(subprocess.run([program, "--help" if name == "encode" else WIDE],
                                            capture_output=True, env=env).returncode, 0)


class Project(unittest.TestCase):
    def test_license(self):
        with open("LICENSE") as f:
            self.assertTrue(f.read().startswith("MIT License\n"))
        with open(os.path.join("models", "README.md")) as f:
            self.assertIn("CC BY-SA 4.0", f.read())

    def test_make_help_lists_the_targets(self):
        out = check([MAKE, "-s", "help"])
        for target in ("test", "install", "uninstall", "clean", "help", "demo"):
            self.assertRegex(out, r"(?m)^  make %s\b" % target)

    def test_one_version(self):
        with open("CHANGELOG.md") as f:
            self.assertIn("## [%s]" % header_version(), f.read())


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="sbert-install-")
        cls.dest = os.path.join(cls.work, "dest")
        cls.prefix = cls.dest + "/usr/local"
        cls.lib = cls.prefix + "/lib"
        cls.version = header_version()
        cls.soversion = soname_version(cls.version)
        cls.make_args = ["DESTDIR=" + cls.dest, "PREFIX=/usr/local", "BUILD=" + BUILD,
                         "EXDIR=" + EXDIR]
        check([MAKE, "-s", "install"] + cls.make_args)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work)

    def installed(self):
        return sorted(os.path.relpath(os.path.join(d, f), self.dest)
                      for d, dirs, files in os.walk(self.dest) for f in files + dirs
                      if not os.path.isdir(os.path.join(d, f)) or os.path.islink(os.path.join(d, f)))

    def run_quickstart(self, program, env=None):
        out = check([program, WIDE], env=env)
        self.assertRegex(out, r"^libsbert %s: 2 texts, dim 1024, " % re.escape(self.version))
        return out

    def test_1_files_and_links(self):
        v, major = self.version, self.soversion
        want = ["usr/local/bin/sbert-encode", "usr/local/bin/sbert-rerank",
                "usr/local/include/sbert.h",
                "usr/local/lib/cmake/sbert/sbertConfig.cmake",
                "usr/local/lib/cmake/sbert/sbertConfigVersion.cmake", "usr/local/lib/libsbert.a",
                "usr/local/lib/libsbert.so", "usr/local/lib/libsbert.so." + major,
                "usr/local/lib/libsbert.so." + v, "usr/local/lib/pkgconfig/sbert.pc"]
        self.assertEqual(self.installed(), sorted(want))
        self.assertEqual(os.readlink(self.lib + "/libsbert.so"), "libsbert.so." + major)
        self.assertEqual(os.readlink(self.lib + "/libsbert.so." + major), "libsbert.so." + v)
        self.assertFalse(os.path.islink(self.lib + "/libsbert.so." + v))
        for tool in ("sbert-encode", "sbert-rerank"):
            out = check([self.prefix + "/bin/" + tool, "--version"])
            self.assertTrue(out.startswith("libsbert %s (" % v), out)
        with open(self.lib + "/pkgconfig/sbert.pc") as f:
            pc = f.read()
        self.assertIn("\nVersion: %s\n" % v, pc)
        self.assertIn("prefix=/usr/local\n", pc)

    def test_2_soname(self):
        if not shutil.which("readelf"):
            return skip("SONAME", "readelf is not installed (Debian: binutils)")
        major = self.soversion
        dyn = check(["readelf", "-d", self.lib + "/libsbert.so." + self.version])
        self.assertRegex(dyn, r"\(SONAME\)\s+Library soname: \[libsbert\.so\.%s\]" % major)

    def test_3_pkg_config(self):
        if not shutil.which("pkg-config"):
            return skip("pkg-config build", "pkg-config is not installed (Debian: pkg-config)")
        # the staged copy, as pkg-config sees a sysroot
        env = dict(os.environ, PKG_CONFIG_SYSROOT_DIR=self.dest,
                   PKG_CONFIG_LIBDIR=self.lib + "/pkgconfig")
        self.assertEqual(check(["pkg-config", "--modversion", "sbert"], env=env).strip(),
                         self.version)
        flags = check(["pkg-config", "--cflags", "--libs", "sbert"], env=env).split()
        self.assertIn("-I" + self.prefix + "/include", flags)
        cc = os.environ.get("CC", "cc")
        shared = os.path.join(self.work, "quickstart-pc-shared")
        check([cc, EXAMPLE, "-o", shared] + flags)
        self.assertIn("libsbert.so." + self.soversion, needed_libraries(shared))
        # linked by SONAME with no path recorded: it runs wherever the library is installed
        self.assertNotRegex(check(["readelf", "-d", shared]), r"\((RPATH|RUNPATH)\)")
        env_run = dict(os.environ, LD_LIBRARY_PATH=self.lib)
        self.run_quickstart(shared, env_run)
        ldd = check(["ldd", shared], env=env_run) if shutil.which("ldd") else self.lib
        self.assertIn(self.lib + "/libsbert.so.", ldd)
        # the archive: --static adds the libraries libsbert needs (Libs.private)
        static = os.path.join(self.work, "quickstart-pc-static")
        flags = check(["pkg-config", "--static", "--cflags", "--libs", "sbert"], env=env).split()
        self.assertIn("-lpthread", flags)
        check([cc, EXAMPLE, "-o", static, "-static"] + flags)
        self.assertEqual(needed_libraries(static), [])
        self.run_quickstart(static)

    def test_4_cmake(self):
        if not shutil.which("cmake"):
            return skip("CMake build", "cmake is not installed (Debian: cmake)")
        src = os.path.join(self.work, "cmake-src")
        os.makedirs(src)
        shutil.copy(EXAMPLE, src)
        with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.13)\n"
                    "project(quickstart C)\n"
                    "find_package(sbert %s REQUIRED)\n"
                    "add_executable(quickstart_shared quickstart.c)\n"
                    "target_link_libraries(quickstart_shared PRIVATE sbert::sbert)\n"
                    "add_executable(quickstart_static quickstart.c)\n"
                    "target_link_libraries(quickstart_static PRIVATE sbert::sbert_static)\n"
                    % self.version)
        build = os.path.join(self.work, "cmake-build")
        check(["cmake", "-S", src, "-B", build, "-DCMAKE_PREFIX_PATH=" + self.prefix,
               "-DCMAKE_BUILD_TYPE=Release"])
        check(["cmake", "--build", build])
        shared, static = build + "/quickstart_shared", build + "/quickstart_static"
        self.assertIn("libsbert.so." + self.soversion, needed_libraries(shared))
        self.assertFalse(any("sbert" in lib for lib in needed_libraries(static)))
        # CMake's build-tree RPATH points at the installed copy's lib folder
        ldd = check(["ldd", shared])
        self.assertIn(self.lib + "/libsbert.so.", ldd)
        self.run_quickstart(shared)
        self.run_quickstart(static)
        # versions this is not: a later major, and before 1.0 an earlier minor (its API differs)
        with open(os.path.join(src, "CMakeLists.txt")) as f:
            text = f.read()
        major, minor = (int(x) for x in self.version.split(".")[:2])
        refused = ["9.0"] + (["0.%d" % (minor - 1)] if major == 0 and minor > 0 else [])
        for other in refused:
            with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
                f.write(text.replace("find_package(sbert %s" % self.version,
                                     "find_package(sbert %s" % other))
            out = subprocess.run(["cmake", "-S", src, "-B", build + "-" + other,
                                  "-DCMAKE_PREFIX_PATH=" + self.prefix], capture_output=True,
                                 text=True)
            self.assertNotEqual(out.returncode, 0, other)
            self.assertIn("sbert", out.stderr)

    def test_modes_whatever_the_umask(self):
        """Each file gets its own mode, not the installer's umask (`sudo make install` under a
        umask of 077 left sbert.pc and the CMake files unreadable to users), also over a file
        installed before with another mode."""
        dest = os.path.join(self.work, "umask")
        args = ["DESTDIR=" + dest, "PREFIX=/usr/local", "BUILD=" + BUILD, "EXDIR=" + EXDIR]
        def install(mask):
            old = os.umask(mask)
            try:
                check([MAKE, "-s", "install"] + args)
            finally:
                os.umask(old)
        install(0o077)
        os.chmod(dest + "/usr/local/lib/pkgconfig/sbert.pc", 0o600)
        install(0o022)
        for d, _, files in os.walk(dest):
            for f in files:
                path = os.path.join(d, f)
                if os.path.islink(path):
                    continue
                executable = "/bin/" in path or ".so." in f
                self.assertEqual(oct(os.stat(path).st_mode & 0o777),
                                 oct(0o755 if executable else 0o644), path)

    def test_5_uninstall_leaves_nothing(self):
        check([MAKE, "-s", "uninstall"] + self.make_args)
        self.assertEqual(self.installed(), [])
        self.assertFalse(os.path.exists(self.lib + "/cmake/sbert"))


if __name__ == "__main__":
    if os.environ.get("SBERT_SANITIZED"):
        # a sanitized libsbert.a needs its sanitizer's runtime in every program linked to it
        del Install
        skip("install", "not in a sanitized build (make test installs the plain build)")
    result = unittest.main(verbosity=1, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    sys.exit(77 if SKIPPED else 0)
