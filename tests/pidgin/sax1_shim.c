/*
 * LD_PRELOAD shim that lets pidgin-sipe 1.25 parse XML with Debian 12's libxml2 (2.9.14).
 *
 * sipe_xml_parse() (src/core/sipe-xml.c) hands xmlSAXUserParseMemory() a static
 * xmlSAXHandler whose `initialized` is XML_SAX2_MAGIC but which fills in only the SAX1
 * element callbacks (startElement, endElement) and leaves startElementNs/endElementNs NULL.
 * libxml2 2.9.14 then parses with its SAX2 (namespace) code, which calls only the *Ns
 * callbacks: sipe sees the character data but no element, its tree stays empty, and every
 * XML body (roaming contacts, provisioning, presence, ...) reads as nothing.
 *
 * The shim passes a copy of such a handler with `initialized` cleared, which makes libxml2
 * take its SAX1 path and call startElement/endElement. Only the SAX2 extension fields are
 * lost, and of those sipe sets just `serror`; the SAX1 `error` callback it also sets still
 * reports malformed XML. Handlers that do use the SAX2 callbacks pass through unchanged.
 *
 *   cc -shared -fPIC -o sax1_shim.so sax1_shim.c -Wl,--no-as-needed \
 *      $(pkg-config --cflags --libs libxml-2.0) -ldl
 *   LD_PRELOAD=./sax1_shim.so driver ...
 *
 * The shim links libxml2 itself (kept by --no-as-needed although it calls nothing in it
 * directly): libpurple loads libsipe.so, and with it libxml2, into a local scope where
 * dlsym(RTLD_NEXT) would not find the real function.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <libxml/parser.h>

typedef int (*parse_memory_fn)(xmlSAXHandlerPtr, void *, const char *, int);

int xmlSAXUserParseMemory(xmlSAXHandlerPtr sax, void *user_data, const char *buffer, int size)
{
	static parse_memory_fn real;

	if (!real) {
		real = (parse_memory_fn)dlsym(RTLD_NEXT, "xmlSAXUserParseMemory");
		if (!real) {
			fprintf(stderr, "sax1_shim: xmlSAXUserParseMemory not found: %s\n", dlerror());
			abort();
		}
	}
	if (sax && sax->initialized == XML_SAX2_MAGIC && !sax->startElementNs &&
	    !sax->endElementNs && (sax->startElement || sax->endElement)) {
		/* libxml2 keeps the pointer only for the duration of the call. */
		xmlSAXHandler sax1 = *sax;

		sax1.initialized = 0;
		return real(&sax1, user_data, buffer, size);
	}
	return real(sax, user_data, buffer, size);
}
