import sys
A=set(); D=set(); F={}
for line in open('classes.tsv'):
    c,a,d,f=map(int,line.split())
    assert f != 0
    if a: A.add(c)
    elif d: D.add(c)
    if (a or d) and f!=c: F[c]=f
def ranges(s):
    r=[]
    for c in sorted(s):
        if r and r[-1][1]==c-1: r[-1][1]=c
        else: r.append([c,c])
    return r
allcp=set(c for c in range(1,0x110000) if not 0xD800<=c<=0xDFFF)
def rx(c):
    return '\\u%04X' % c if c <= 0xFFFF else '\\U%08X' % c
def cls(rs):
    out=[]
    for a,b in rs:
        out.append(rx(a) if a==b else rx(a)+'-'+rx(b))
    return ''.join(out)
notA = ranges(allcp - A)
notC = ranges(allcp - A - D)
# a surrogate gap splits ranges; fine
token_re = '[^' + cls(notA) + '][^' + cls(notC) + ']*'
def ue(c):
    return '\\%04X' % c if c <= 0xFFFF else '\\+%06X' % c
nonascii = sorted(c for c in F if c >= 128)
frm = "U&'" + ''.join(ue(c) for c in nonascii) + "'"
to = "U&'" + ''.join(ue(F[c]) for c in nonascii) + "'"
open('token_re.txt','w').write(token_re)
open('from.txt','w').write(frm)
open('to.txt','w').write(to)
print(len(token_re), len(frm), len(to))
# rust
Ar = ranges(A)
with open('rust_tables.rs','w') as f:
    f.write('const TOKEN_START: [(u32, u32); %d] = [\n' % len(Ar))
    for a,b in Ar: f.write('    (0x%X, 0x%X),\n' % (a,b))
    f.write('];\n')
    f.write('const DIACRITICS: [u32; %d] = [%s];\n' % (len(D), ', '.join('0x%X'%c for c in sorted(D))))
