#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compare two builds of a module function by function: same instructions?

    scripts/disasm-diff.py [--objdump=aarch64-linux-gnu-objdump] BEFORE.ko AFTER.ko

For a change that only moves code (scripts/same-code.sh): each function's
instructions, from objdump -dr, must be the same in both, apart from what
moving code changes by itself: addresses, section offsets and the numbers
the compiler and kbuild give to local symbols. A relocation's target is
compared as what it names: a symbol, a symbol plus its offset, or the
string it points at, so a call or load that reached other data would show.
Exits 1 and prints each difference if any function differs or is missing.
"""
import re
import subprocess
import sys

# x86's PC-relative relocations: the addend counts from the field's end.
PC_RELATIVE = re.compile(r'R_X86_64_(PC32|PLT32|GOTPCREL|GOTPCRELX|REX_GOTPCRELX)$')

# Numbers the compiler and kbuild give local names (__already_done.3,
# __UNIQUE_ID_ddebug412, foo.isra.0): they follow the order of the source.
LOCAL_NUMBERS = ((re.compile(r'(__UNIQUE_ID_[A-Za-z_]*?)\d+'), r'\1N'),
                 (re.compile(r'\.(isra|constprop|part|cold|lto_priv)\.\d+'), r'.\1.N'),
                 (re.compile(r'\.\d+\b'), '.N'))


def local_name(name):
    for pattern, repl in LOCAL_NUMBERS:
        name = pattern.sub(repl, name)
    return name


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


class Module:
    def __init__(self, path, readelf):
        self.path = path
        self.readelf = readelf
        self.sections = {}	# index -> name
        for m in re.finditer(r'^\s*\[\s*(\d+)\]\s+(\S+)', run(readelf, '-SW', path), re.M):
            self.sections[m.group(1)] = m.group(2)
        self.symbols = {}	# section name -> [(value, size, name)]
        for line in run(readelf, '-sW', path).splitlines():
            f = line.split()
            if len(f) < 8 or not f[0].endswith(':') or f[3] in ('SECTION', 'FILE'):
                continue
            sec = self.sections.get(f[6])
            if sec:
                self.symbols.setdefault(sec, []).append((int(f[1], 16), int(f[2], 0), f[7]))
        self.strings = {}	# section name -> [(offset, string)]

    def section_strings(self, sec):
        if sec not in self.strings:
            out = subprocess.run([self.readelf, '-p', sec, self.path], capture_output=True,
                                 text=True, errors='replace').stdout
            self.strings[sec] = [(int(m.group(1), 16), m.group(2)) for m in
                                 re.finditer(r'^\s*\[\s*([0-9a-f]+)\]  (.*)$', out, re.M)]
        return self.strings[sec]

    def name_of(self, sec, off):
        """What section + off is: a string, or symbol+delta, or None."""
        if sec.startswith('.rodata.str'):
            for start, s in self.section_strings(sec):
                if start <= off < start + len(s.encode()) + 1:
                    return '"%s"' % s.encode()[off - start:].decode(errors='replace')
            return None
        # The object holding it, or a size-less label there (lockdep's
        # __key.N without lockdep): where both are, either may be meant,
        # and the two builds agree if they have one name in common.
        names = sorted({'%s+%#x' % (local_name(name), off - value)
                        for value, size, name in self.symbols.get(sec, [])
                        if value <= off < value + size or (value == off and not size)})
        return '{%s}' % '|'.join(names) if names else None

    def resolve(self, target, pc_bias=0):
        """A relocation's target, by what it names rather than where.

        @pc_bias: for a PC-relative relocation, the bytes from the
        relocated field to the end of its instruction, which the addend
        subtracts (x86: -4 for a displacement last in its instruction).
        """
        m = re.fullmatch(r'(\S+?)([+-]0x[0-9a-f]+)?', target)
        sym, addend = m.group(1), int(m.group(2) or '0', 16)
        if not sym.startswith('.'):
            return local_name(sym) + (m.group(2) or '')
        return self.name_of(sym, addend + pc_bias) or sym + '+?'

    def functions(self):
        funcs, cur, body, pending = {}, None, [], []
        insn = re.compile(r'^\s+([0-9a-f]+):\s+(.*)$')
        reloc = re.compile(r'^\s+([0-9a-f]+): (R_\S+)\s+(\S+)$')

        def settle(end):
            """Name the relocations before the instruction at @end."""
            for k, addr, rtype, tgt in pending:
                bias = end - addr if end is not None and PC_RELATIVE.match(rtype) else 0
                body_of, idx = k
                body_of[idx] = '  %s %s' % (rtype, self.resolve(tgt, bias))
            pending.clear()

        for line in run(OBJDUMP, '-dr', '--no-show-raw-insn', self.path).splitlines():
            h = re.match(r'^([0-9a-f]+) <(.+)>:$', line)
            if h:
                settle(int(h.group(1), 16))
                cur = local_name(h.group(2))
                body = funcs.setdefault(cur, [])
                continue
            if cur is None:
                continue
            r = reloc.match(line)
            if r:
                # The instruction's own target is a placeholder until linked.
                if body and body[-1] is not None:
                    body[-1] = re.sub(r'<[^>]*>', '<reloc>', body[-1])
                body.append(None)
                pending.append(((body, len(body) - 1), int(r.group(1), 16),
                                r.group(2), r.group(3)))
                continue
            i = insn.match(line)
            if i:
                settle(int(i.group(1), 16))
                # Branches within the function keep their offset in it.
                body.append(re.sub(r'\b[0-9a-f]+ (<[^>]*>)', r'\1', i.group(2)).rstrip())
        settle(None)
        return funcs

def same_line(a, b):
    """Equal, or naming targets {x|y} that have a name in common."""
    if a == b:
        return True
    ma, mb = (re.fullmatch(r'(.*)\{(.*)\}', x) for x in (a, b))
    return bool(ma and mb and ma.group(1) == mb.group(1) and
                set(ma.group(2).split('|')) & set(mb.group(2).split('|')))


def same_lines(a, b):
    return len(a) == len(b) and all(same_line(x, y) for x, y in zip(a, b))


def main(argv):
    global OBJDUMP, READELF
    OBJDUMP, READELF = 'objdump', 'readelf'
    args = []
    for a in argv:
        if a.startswith('--objdump='):
            OBJDUMP = a.split('=', 1)[1]
        elif a.startswith('--readelf='):
            READELF = a.split('=', 1)[1]
        else:
            args.append(a)
    if len(args) != 2:
        sys.exit(__doc__)
    before, after = (Module(p, READELF).functions() for p in args)
    bad = 0
    for name in sorted(set(before) | set(after)):
        if name not in after or name not in before:
            print('%s: only in %s' % (name, args[0] if name in before else args[1]))
            bad += 1
        elif not same_lines(before[name], after[name]):
            bad += 1
            print('%s: differs' % name)
            for k, (a, b) in enumerate(zip(before[name], after[name])):
                if not same_line(a, b):
                    print('  first at instruction line %d:\n  - %s\n  + %s' % (k, a, b))
                    break
            else:
                print('  lengths %d and %d' % (len(before[name]), len(after[name])))
    insns = sum(1 for f in after.values() for line in f if not line.startswith('  R_'))
    print('%d functions, %d instructions: %s' % (len(after), insns,
          'same' if not bad else '%d differ' % bad))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
