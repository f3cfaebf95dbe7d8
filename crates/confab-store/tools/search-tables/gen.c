#define SQLITE_ENABLE_FTS5 1
#include "sqlite3.c"
#include <stdio.h>
int main(void){
  const char *args[] = {"remove_diacritics","0"};
  Fts5Tokenizer *t = 0;
  if (fts5UnicodeCreate(0, args, 2, &t) != SQLITE_OK) { fprintf(stderr,"create\n"); return 1; }
  Unicode61Tokenizer *p = (Unicode61Tokenizer*)t;
  FILE *f = fopen("classes.tsv","w");
  for (int c = 1; c <= 0x10FFFF; c++) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    int alnum = c < 128 ? p->aTokenChar[c] : fts5UnicodeIsAlnum(p, c);
    int diac = c < 128 ? 0 : sqlite3Fts5UnicodeIsdiacritic(c);
    int fold = sqlite3Fts5UnicodeFold(c, 0);
    /* READ_UTF8 reads U+FFFE and U+FFFF as U+FFFD, a separator. */
    if (c == 0xFFFE || c == 0xFFFF) { alnum = 0; diac = 0; fold = c; }
    fprintf(f, "%d\t%d\t%d\t%d\n", c, alnum, diac, fold);
  }
  fclose(f);
  return 0;
}
