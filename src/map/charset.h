/* charset: which column charsets survive Canal's text decoding (pure, no
 * I/O). Canal decodes every text column of an instance with one Java
 * charset (canal.instance.connectionCharset, sent as the entry header's
 * serverenCode, "UTF-8" by default); the bytes of a column in another
 * charset become U+FFFD or wrong characters before canal-es sees them
 * (docs/type-mapping.md, "Character sets"). */
#ifndef CE_MAP_CHARSET_H
#define CE_MAP_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

/* information_schema DATA_TYPE (lower case) of a text column: char,
 * varchar, tinytext, text, mediumtext, longtext. */
bool cs_is_text_type(const char *data_type);
/* Canal's mysqlType of a text column ("varchar(20)", "text", "char(3)"). */
bool cs_mysql_type_is_text(const char *mysql_type);
/* True when Canal decoding with the Java charset enc ("" or NULL: UTF-8,
 * Canal's default) gives the exact text of a column in MySQL charset cs
 * (CHARACTER_SET_NAME). ascii is exact under every ASCII-compatible enc. */
bool cs_canal_exact(const char *enc, const char *cs);
/* True when text of charset cs that is all ASCII bytes is ASCII text
 * (every charset but ucs2, utf16, utf16le, utf32 and swe7): Canal's text of
 * such a value is exact, and Canal's text is all ASCII only then. */
bool cs_ascii_safe(const char *cs);
bool cs_is_ascii(const char *v, size_t len);
/* The value holds U+FFFD (EF BF BD), the replacement character. */
bool cs_has_fffd(const char *v, size_t len);

#endif
