/* iconv_open/iconv: steps from __gconv_find_transform, modules by dlopen. */
#include <iconv.h>
#include <wchar.h>
#include <stdio.h>
int main(void) {
	iconv_t c = iconv_open("UTF-8", "ISO-8859-1");
	char in[] = "h\xe9", out[16], *ip = in, *op = out; size_t il = 2, ol = 16;
	iconv(c, &ip, &il, &op, &ol);
	fputws(L"x\n", stdout);
	return 0;
}
