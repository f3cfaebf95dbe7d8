A=bytearray(0x110000); D=bytearray(0x110000); F=list(range(0x110000))
for line in open('classes.tsv'):
    c,a,d,f=map(int,line.split())
    A[c]=a; D[c]=1 if (d and not a) else 0; F[c]=f
def tokens(text, fold):
    out=[]; cur=None
    for ch in text:
        c=ord(ch)
        if cur is None:
            if A[c]: cur=[chr(F[c]) if fold else ch]
        else:
            if A[c] or D[c]: cur.append(chr(F[c]) if fold else ch)
            else: out.append(''.join(cur)); cur=None
    if cur is not None: out.append(''.join(cur))
    return out
def digest(fold):
    h=0xcbf29ce484222325
    def upd(bs):
        nonlocal h
        for b in bs:
            h^=b; h=(h*0x100000001b3)&0xFFFFFFFFFFFFFFFF
    for k in range(0x110000//4096):
        parts=[]
        for cp in range(max(1,k*4096),(k+1)*4096):
            if 0xD800<=cp<=0xDFFF: continue
            ch=chr(cp)
            parts.append(f"{cp}a{ch}b{cp} {ch}{cp}c ")
        toks=sorted(set(t.encode() for t in tokens(''.join(parts), fold)))
        for t in toks: upd(t); upd(b'\n')
        upd(b'\0')
    return h
print(hex(digest(False)), hex(digest(True)))
