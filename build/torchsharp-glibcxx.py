#!/usr/bin/env python3
"""Makes TorchSharp's libLibTorchSharp.so loadable where the system libstdc++ predates GCC 13 (Debian 12).

Why: TorchSharp 0.107's LibTorchSharp was linked with GCC 13, which records a need for GLIBCXX_3.4.32 for one symbol
only, std::ios_base_library_init(). That symbol is a link-time marker (GCC 13 emits a reference to it so that the
iostreams are initialised in libstdc++ itself); no relocation refers to it and nothing calls it. Debian 12 ships GCC
12's libstdc++, which has no GLIBCXX_3.4.32, so the dynamic loader refuses the whole library. Two edits make the need
harmless without touching any code:
  1. `patchelf --clear-symbol-version _ZSt21ios_base_library_initv`: the marker no longer asks for GLIBCXX_3.4.32;
  2. the GLIBCXX_3.4.32 entry of .gnu.version_r gets VER_FLG_WEAK, so a libstdc++ without it is no longer an error.
Only then is the file changed, and only when the system libstdc++ lacks the version; before the edits the script checks
that no other symbol uses that version (which would be a real dependency, and then it refuses). The file is edited
as a copy renamed over the original, never in place, so a hard link into the NuGet cache is never written through.

Usage: torchsharp-glibcxx.py LIBRARY [--libstdcxx PATH] [--check]
  --check: only report what would be done (exit 0 if the library loads as it is or after the edit).
"""
import argparse, os, shutil, struct, subprocess, sys, tempfile

VERSION = b"GLIBCXX_3.4.32"
MARKER = "_ZSt21ios_base_library_initv"
SHT_GNU_VERNEED, SHT_GNU_VERSYM, SHT_DYNSYM = 0x6FFFFFFE, 0x6FFFFFFF, 11
VER_FLG_WEAK = 0x2


class Elf:
    """The parts of a little-endian ELF64 file that version needs live in."""

    def __init__(self, data: bytearray, path: str):
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise SystemExit(f"{path}: not a little-endian ELF64 file")
        self.data, self.path = data, path
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        self.sections = []
        for i in range(shnum):
            name, kind, flags, addr, offset, size, link, info, align, entsize = struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
            self.sections.append(dict(type=kind, offset=offset, size=size, link=link, entsize=entsize))

    def section(self, kind):
        return next((s for s in self.sections if s["type"] == kind), None)

    def string(self, table, index):
        start = table["offset"] + index
        return bytes(self.data[start:self.data.index(b"\0", start)])

    def version_needs(self):
        """(offset of vna_flags, name, vna_other) for every version this file needs."""
        verneed = self.section(SHT_GNU_VERNEED)
        if verneed is None:
            return []
        strings = self.sections[verneed["link"]]
        needs, offset = [], verneed["offset"]
        while True:
            _, count, _, aux, following = struct.unpack_from("<HHIII", self.data, offset)
            entry = offset + aux
            for _ in range(count):
                _, flags, other, name, next_aux = struct.unpack_from("<IHHII", self.data, entry)
                needs.append((entry + 4, self.string(strings, name), other, flags))
                entry += next_aux
            if following == 0:
                return needs
            offset += following

    def symbols_with_version(self, index):
        """Names of the dynamic symbols whose .gnu.version entry is `index`."""
        dynsym, versym = self.section(SHT_DYNSYM), self.section(SHT_GNU_VERSYM)
        if dynsym is None or versym is None:
            return []
        strings = self.sections[dynsym["link"]]
        names = []
        for i in range(dynsym["size"] // dynsym["entsize"]):
            version, = struct.unpack_from("<H", self.data, versym["offset"] + 2 * i)
            if version & 0x7FFF == index:
                name, = struct.unpack_from("<I", self.data, dynsym["offset"] + i * dynsym["entsize"])
                names.append(self.string(strings, name).decode())
        return names


def system_libstdcxx():
    for line in subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout.splitlines():
        name, _, target = line.strip().partition(" => ")
        if name.startswith("libstdc++.so.6 ") and ("x86-64" in name or "64bit" in name or "," not in name):
            return target
    for candidate in ("/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6"):
        if os.path.exists(candidate):
            return candidate
    raise SystemExit("no libstdc++.so.6 found (ldconfig -p lists none)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("library")
    parser.add_argument("--libstdcxx", help="the libstdc++ to check against (default: the system's)")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()

    libstdcxx = args.libstdcxx or system_libstdcxx()
    with open(libstdcxx, "rb") as f:
        if VERSION + b"\0" in f.read():
            print(f"{args.library}: {libstdcxx} has {VERSION.decode()}; nothing to do")
            return 0
    with open(args.library, "rb") as f:
        elf = Elf(bytearray(f.read()), args.library)
    need = next((n for n in elf.version_needs() if n[1] == VERSION), None)
    if need is None:
        print(f"{args.library}: needs no {VERSION.decode()}; nothing to do")
        return 0
    flags_offset, _, index, flags = need
    users = elf.symbols_with_version(index)
    if flags & VER_FLG_WEAK and not users:
        print(f"{args.library}: {VERSION.decode()} is already a weak need; nothing to do")
        return 0
    if set(users) - {MARKER}:
        raise SystemExit(f"{args.library}: {VERSION.decode()} is needed by {sorted(set(users) - {MARKER})}, not only by the link marker "
                         f"{MARKER}; this libstdc++ ({libstdcxx}) cannot run it: install GCC 13's libstdc++ or newer")
    if args.check:
        print(f"{args.library}: would clear {MARKER}'s version and mark {VERSION.decode()} weak")
        return 0
    patchelf = shutil.which("patchelf")
    if patchelf is None:
        raise SystemExit("patchelf is needed to make TorchSharp load on this system (apt-get install patchelf; scripts/bootstrap does)")

    directory = os.path.dirname(os.path.abspath(args.library))
    fd, staged = tempfile.mkstemp(prefix=".glibcxx-", dir=directory)
    os.close(fd)
    try:
        shutil.copyfile(args.library, staged)
        if users:
            subprocess.run([patchelf, "--clear-symbol-version", MARKER, staged], check=True)
        with open(staged, "rb") as f:
            edited = Elf(bytearray(f.read()), staged)
        need = next(n for n in edited.version_needs() if n[1] == VERSION)
        if edited.symbols_with_version(need[2]):
            raise SystemExit(f"{args.library}: patchelf left symbols on {VERSION.decode()}")
        struct.pack_into("<H", edited.data, need[0], need[3] | VER_FLG_WEAK)
        with open(staged, "wb") as f:
            f.write(edited.data)
        shutil.copymode(args.library, staged)
        os.replace(staged, args.library)
    finally:
        if os.path.exists(staged):
            os.remove(staged)
    print(f"{args.library}: cleared {MARKER}'s version and marked {VERSION.decode()} weak (system libstdc++ lacks it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
