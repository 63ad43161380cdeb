#!/usr/bin/env python3
"""tools/check_layers.py passes on the tree as it is and fails on each kind of planted violation:
an upward #include, an include of another folder's inner header, a call to a higher layer (nm),
and a cycle between two folders' objects. And the static library exports only the API (sbert_*):
its internal sb_* functions cannot clash with a user's symbols."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
CHECK = os.path.join(ROOT, "tools", "check_layers.py")
CC = os.environ.get("CC", "cc")


def run_check(*args):
    return subprocess.run([sys.executable, CHECK, *args], capture_output=True, text=True, cwd=ROOT)


class CheckLayers(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def copy_src(self):
        src = os.path.join(self.tmp, "libsbert")
        shutil.copytree(os.path.join(ROOT, "libsbert"), src)
        return src

    def copy_objects(self):
        objs = os.path.join(self.tmp, "objects")
        shutil.copytree(os.path.join(ROOT, BUILD, "libsbert"), objs, copy_function=os.symlink)
        return objs

    def plant_object(self, objs, folder, name, code):
        c = os.path.join(self.tmp, name + ".c")
        with open(c, "w") as f:
            f.write(code)
        subprocess.run([CC, "-c", c, "-o", os.path.join(objs, folder, name + ".o")], check=True)

    def test_tree_passes(self):
        r = run_check("--objects", os.path.join(BUILD, "libsbert"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("layers hold", r.stdout)

    def test_upward_include_fails(self):
        src = self.copy_src()
        with open(os.path.join(src, "kernels", "ops.c"), "a") as f:
            f.write('#include "model/model.h"\n')
        r = run_check("--src", src)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('kernels includes "model/model.h" of model, a layer above it', r.stderr)

    def test_inner_header_of_another_folder_fails(self):
        src = self.copy_src()
        with open(os.path.join(src, "engine", "pooling.c"), "a") as f:
            f.write('#include "kernels/kernels_impl.h"\n')
        r = run_check("--src", src)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("other folders see only kernels/kernels.h", r.stderr)

    def test_call_to_a_higher_layer_fails(self):
        objs = self.copy_objects()
        # the link-level dependency the tokenizer used to have: calling the API's sbert_strerror
        self.plant_object(objs, "tokenizer", "planted",
                          "const char *sbert_strerror(int);\n"
                          "const char *planted(int rc) { return sbert_strerror(rc); }\n")
        r = run_check("--objects", objs)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("tokenizer calls sbert_strerror of api", r.stderr)
        self.assertIn("cycle between folders", r.stderr)

    def test_cycle_between_folders_fails(self):
        objs = self.copy_objects()
        # text calls base (allowed) and base calls text (not): the cycle base -> text -> base
        self.plant_object(objs, "base", "planted",
                          "int sb_utf8_planted(void);\nint planted(void) { return sb_utf8_planted(); }\n")
        self.plant_object(objs, "text", "planted2",
                          "int planted(void);\nint sb_utf8_planted(void) { return planted(); }\n")
        r = run_check("--objects", objs)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cycle between folders: base -> text -> base", r.stderr)


class PublicArchive(unittest.TestCase):
    def test_only_the_api_is_exported(self):
        nm = os.environ.get("NM", "nm")
        out = subprocess.run([nm, "-g", "--defined-only", os.path.join(BUILD, "libsbert.a")],
                             capture_output=True, text=True, check=True, cwd=ROOT).stdout
        exported = [line.split()[2] for line in out.splitlines() if len(line.split()) == 3]
        self.assertIn("sbert_encode", exported)
        self.assertEqual([s for s in exported if not s.startswith("sbert_")], [])


if __name__ == "__main__":
    unittest.main()
