/*
 * Checks that pidgin-sipe's own XML parser yields a tree: loads the installed libsipe.so,
 * hands sipe_xml_parse() a roaming-self body as the server sends it, and walks the result.
 * Run it with and without LD_PRELOAD=sax1_shim.so to see what the shim changes.
 *
 *   sax1_check [PATH-TO-libsipe.so]     exit 0: parsed; 1: no tree; 2: libsipe unusable
 */

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef struct sipe_xml sipe_xml;

static const char body[] =
	"<roamingData xmlns=\"http://schemas.microsoft.com/2006/09/sip/roaming-self\">"
	"<categories xmlns=\"http://schemas.microsoft.com/2006/09/sip/categories\" "
	"uri=\"sip:alice@contoso.com\"><category name=\"note\" instance=\"0\">"
	"<note><body type=\"personal\">hi &amp; bye</body></note></category></categories>"
	"</roamingData>";

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/usr/lib/purple-2/libsipe.so";
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	sipe_xml *(*parse)(const char *, size_t);
	const char *(*name)(const sipe_xml *);
	const sipe_xml *(*child)(const sipe_xml *, const char *);
	const char *(*attribute)(const sipe_xml *, const char *);
	void (*xml_free)(sipe_xml *);

	if (!lib) {
		fprintf(stderr, "sax1_check: %s\n", dlerror());
		return 2;
	}
	*(void **)&parse = dlsym(lib, "sipe_xml_parse");
	*(void **)&name = dlsym(lib, "sipe_xml_name");
	*(void **)&child = dlsym(lib, "sipe_xml_child");
	*(void **)&attribute = dlsym(lib, "sipe_xml_attribute");
	*(void **)&xml_free = dlsym(lib, "sipe_xml_free");
	if (!parse || !name || !child || !attribute || !xml_free) {
		fprintf(stderr, "sax1_check: libsipe lacks the sipe_xml_* functions\n");
		return 2;
	}

	sipe_xml *root = parse(body, strlen(body));
	if (!root) {
		puts("NO-TREE sipe_xml_parse returned NULL");
		return 1;
	}
	/* sipe drops namespace prefixes and matches children by "a/b" paths. */
	const sipe_xml *cat = child(root, "categories/category");
	const char *cat_name = cat ? attribute(cat, "name") : NULL;
	int ok = strcmp(name(root), "roamingData") == 0 && cat_name && strcmp(cat_name, "note") == 0;

	printf("%s root=%s category=%s\n", ok ? "TREE" : "BAD-TREE", name(root),
	       cat_name ? cat_name : "(none)");
	xml_free(root);
	return ok ? 0 : 1;
}
