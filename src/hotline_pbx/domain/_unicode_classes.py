"""Character classes the masker needs and Python's ``re`` cannot name
(it has no ``\\p{Mn}``), as the inside of a ``[...]`` class. Generated from
``unicodedata`` (Unicode 14.0.0) - computing them at import would cost
~50 ms - and checked against the running Python by
tests/unit/domain/test_masking.py, whose failure message carries the new text.
"""

#: Invisible: format characters (Cf), combining marks (Mn, Me) and control
#: characters (Cc) other than whitespace.
INVISIBLE_BMP = (
    r"\u0000-\u0008\u000e-\u001b\u007f-\u0084\u0086-\u009f\u00ad\u0300-\u036f\u0483-\u0489"
    r"\u0591-\u05bd\u05bf\u05c1-\u05c2\u05c4-\u05c5\u05c7\u0600-\u0605\u0610-\u061a\u061c"
    r"\u064b-\u065f\u0670\u06d6-\u06dd\u06df-\u06e4\u06e7-\u06e8\u06ea-\u06ed\u070f\u0711"
    r"\u0730-\u074a\u07a6-\u07b0\u07eb-\u07f3\u07fd\u0816-\u0819\u081b-\u0823\u0825-\u0827"
    r"\u0829-\u082d\u0859-\u085b\u0890-\u0891\u0898-\u089f\u08ca-\u0902\u093a\u093c"
    r"\u0941-\u0948\u094d\u0951-\u0957\u0962-\u0963\u0981\u09bc\u09c1-\u09c4\u09cd"
    r"\u09e2-\u09e3\u09fe\u0a01-\u0a02\u0a3c\u0a41-\u0a42\u0a47-\u0a48\u0a4b-\u0a4d\u0a51"
    r"\u0a70-\u0a71\u0a75\u0a81-\u0a82\u0abc\u0ac1-\u0ac5\u0ac7-\u0ac8\u0acd\u0ae2-\u0ae3"
    r"\u0afa-\u0aff\u0b01\u0b3c\u0b3f\u0b41-\u0b44\u0b4d\u0b55-\u0b56\u0b62-\u0b63\u0b82"
    r"\u0bc0\u0bcd\u0c00\u0c04\u0c3c\u0c3e-\u0c40\u0c46-\u0c48\u0c4a-\u0c4d\u0c55-\u0c56"
    r"\u0c62-\u0c63\u0c81\u0cbc\u0cbf\u0cc6\u0ccc-\u0ccd\u0ce2-\u0ce3\u0d00-\u0d01"
    r"\u0d3b-\u0d3c\u0d41-\u0d44\u0d4d\u0d62-\u0d63\u0d81\u0dca\u0dd2-\u0dd4\u0dd6\u0e31"
    r"\u0e34-\u0e3a\u0e47-\u0e4e\u0eb1\u0eb4-\u0ebc\u0ec8-\u0ecd\u0f18-\u0f19\u0f35\u0f37"
    r"\u0f39\u0f71-\u0f7e\u0f80-\u0f84\u0f86-\u0f87\u0f8d-\u0f97\u0f99-\u0fbc\u0fc6"
    r"\u102d-\u1030\u1032-\u1037\u1039-\u103a\u103d-\u103e\u1058-\u1059\u105e-\u1060"
    r"\u1071-\u1074\u1082\u1085-\u1086\u108d\u109d\u135d-\u135f\u1712-\u1714\u1732-\u1733"
    r"\u1752-\u1753\u1772-\u1773\u17b4-\u17b5\u17b7-\u17bd\u17c6\u17c9-\u17d3\u17dd"
    r"\u180b-\u180f\u1885-\u1886\u18a9\u1920-\u1922\u1927-\u1928\u1932\u1939-\u193b"
    r"\u1a17-\u1a18\u1a1b\u1a56\u1a58-\u1a5e\u1a60\u1a62\u1a65-\u1a6c\u1a73-\u1a7c\u1a7f"
    r"\u1ab0-\u1ace\u1b00-\u1b03\u1b34\u1b36-\u1b3a\u1b3c\u1b42\u1b6b-\u1b73\u1b80-\u1b81"
    r"\u1ba2-\u1ba5\u1ba8-\u1ba9\u1bab-\u1bad\u1be6\u1be8-\u1be9\u1bed\u1bef-\u1bf1"
    r"\u1c2c-\u1c33\u1c36-\u1c37\u1cd0-\u1cd2\u1cd4-\u1ce0\u1ce2-\u1ce8\u1ced\u1cf4"
    r"\u1cf8-\u1cf9\u1dc0-\u1dff\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    r"\u20d0-\u20f0\u2cef-\u2cf1\u2d7f\u2de0-\u2dff\u302a-\u302d\u3099-\u309a\ua66f-\ua672"
    r"\ua674-\ua67d\ua69e-\ua69f\ua6f0-\ua6f1\ua802\ua806\ua80b\ua825-\ua826\ua82c"
    r"\ua8c4-\ua8c5\ua8e0-\ua8f1\ua8ff\ua926-\ua92d\ua947-\ua951\ua980-\ua982\ua9b3"
    r"\ua9b6-\ua9b9\ua9bc-\ua9bd\ua9e5\uaa29-\uaa2e\uaa31-\uaa32\uaa35-\uaa36\uaa43\uaa4c"
    r"\uaa7c\uaab0\uaab2-\uaab4\uaab7-\uaab8\uaabe-\uaabf\uaac1\uaaec-\uaaed\uaaf6\uabe5"
    r"\uabe8\uabed\ufb1e\ufe00-\ufe0f\ufe20-\ufe2f\ufeff\ufff9-\ufffb"
)

#: The same beyond U+FFFF (tags, variation selectors supplement, marks of
#: historic scripts), apart: ``re`` checks a class with such characters range
#: by range, ~30 times slower than one with BMP characters only.
INVISIBLE_ASTRAL = (
    r"\U000101fd\U000102e0\U00010376-\U0001037a\U00010a01-\U00010a03\U00010a05-\U00010a06"
    r"\U00010a0c-\U00010a0f\U00010a38-\U00010a3a\U00010a3f\U00010ae5-\U00010ae6"
    r"\U00010d24-\U00010d27\U00010eab-\U00010eac\U00010f46-\U00010f50\U00010f82-\U00010f85"
    r"\U00011001\U00011038-\U00011046\U00011070\U00011073-\U00011074\U0001107f-\U00011081"
    r"\U000110b3-\U000110b6\U000110b9-\U000110ba\U000110bd\U000110c2\U000110cd"
    r"\U00011100-\U00011102\U00011127-\U0001112b\U0001112d-\U00011134\U00011173"
    r"\U00011180-\U00011181\U000111b6-\U000111be\U000111c9-\U000111cc\U000111cf"
    r"\U0001122f-\U00011231\U00011234\U00011236-\U00011237\U0001123e\U000112df"
    r"\U000112e3-\U000112ea\U00011300-\U00011301\U0001133b-\U0001133c\U00011340"
    r"\U00011366-\U0001136c\U00011370-\U00011374\U00011438-\U0001143f\U00011442-\U00011444"
    r"\U00011446\U0001145e\U000114b3-\U000114b8\U000114ba\U000114bf-\U000114c0"
    r"\U000114c2-\U000114c3\U000115b2-\U000115b5\U000115bc-\U000115bd\U000115bf-\U000115c0"
    r"\U000115dc-\U000115dd\U00011633-\U0001163a\U0001163d\U0001163f-\U00011640\U000116ab"
    r"\U000116ad\U000116b0-\U000116b5\U000116b7\U0001171d-\U0001171f\U00011722-\U00011725"
    r"\U00011727-\U0001172b\U0001182f-\U00011837\U00011839-\U0001183a\U0001193b-\U0001193c"
    r"\U0001193e\U00011943\U000119d4-\U000119d7\U000119da-\U000119db\U000119e0"
    r"\U00011a01-\U00011a0a\U00011a33-\U00011a38\U00011a3b-\U00011a3e\U00011a47"
    r"\U00011a51-\U00011a56\U00011a59-\U00011a5b\U00011a8a-\U00011a96\U00011a98-\U00011a99"
    r"\U00011c30-\U00011c36\U00011c38-\U00011c3d\U00011c3f\U00011c92-\U00011ca7"
    r"\U00011caa-\U00011cb0\U00011cb2-\U00011cb3\U00011cb5-\U00011cb6\U00011d31-\U00011d36"
    r"\U00011d3a\U00011d3c-\U00011d3d\U00011d3f-\U00011d45\U00011d47\U00011d90-\U00011d91"
    r"\U00011d95\U00011d97\U00011ef3-\U00011ef4\U00013430-\U00013438\U00016af0-\U00016af4"
    r"\U00016b30-\U00016b36\U00016f4f\U00016f8f-\U00016f92\U00016fe4\U0001bc9d-\U0001bc9e"
    r"\U0001bca0-\U0001bca3\U0001cf00-\U0001cf2d\U0001cf30-\U0001cf46\U0001d167-\U0001d169"
    r"\U0001d173-\U0001d182\U0001d185-\U0001d18b\U0001d1aa-\U0001d1ad\U0001d242-\U0001d244"
    r"\U0001da00-\U0001da36\U0001da3b-\U0001da6c\U0001da75\U0001da84\U0001da9b-\U0001da9f"
    r"\U0001daa1-\U0001daaf\U0001e000-\U0001e006\U0001e008-\U0001e018\U0001e01b-\U0001e021"
    r"\U0001e023-\U0001e024\U0001e026-\U0001e02a\U0001e130-\U0001e136\U0001e2ae"
    r"\U0001e2ec-\U0001e2ef\U0001e8d0-\U0001e8d6\U0001e944-\U0001e94a\U000e0001"
    r"\U000e0020-\U000e007f\U000e0100-\U000e01ef"
)

#: Digits that are not decimal digits (``\d`` has those): superscripts,
#: subscripts, circled and other styled digits (str.isdigit, not str.isdecimal).
EXTRA_DIGITS = (
    r"\u00b2-\u00b3\u00b9\u1369-\u1371\u19da\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468"
    r"\u2474-\u247c\u2488-\u2490\u24ea\u24f5-\u24fd\u24ff\u2776-\u277e\u2780-\u2788"
    r"\u278a-\u2792\U00010a40-\U00010a43\U00010e60-\U00010e68\U00011052-\U0001105a"
    r"\U0001f100-\U0001f10a"
)

#: Characters that stand for one digit but are not digits to str.isdigit: a numeric
#: value of 0-9 (str.isnumeric), as the CJK numerals 〇一二三四五六七八九 and
#: 零壹贰叁…, the Roman numerals Ⅰ-Ⅸ, the circled ideographs ㊀-㊈.
NUMERIC_DIGITS_BMP = (
    r"\u0c78-\u0c7e\u17f0-\u17f9\u215f-\u2168\u2170-\u2178\u2185\u2189\u3007\u3021-\u3029"
    r"\u3192-\u3195\u3220-\u3228\u3280-\u3288\u3405\u3483\u382a\u3b4d\u4e00\u4e03\u4e09\u4e5d"
    r"\u4e8c\u4e94\u4e96\u4ee8\u4f0d\u5169\u516b\u516d\u53c1-\u53c4\u56db\u58f1\u58f9\u5e7a"
    r"\u5efe\u5f0c-\u5f0e\u5f10\u634c\u67d2\u6f06\u7396\u8086\u8cae\u8cb3\u8d30\u9646\u9678"
    r"\u96f6\ua6e6-\ua6ef\uf96b\uf978\uf9b2\uf9d1\uf9d3"
)

#: The same beyond U+FFFF (counting rods, Aegean and other historic numbers).
NUMERIC_DIGITS_ASTRAL = (
    r"\U00010107-\U0001010f\U00010142-\U00010143\U00010148\U0001014f\U00010158-\U0001015f"
    r"\U00010173\U0001018a\U000102e1-\U000102e9\U00010320-\U00010321\U000103d1-\U000103d2"
    r"\U00010858-\U0001085a\U00010879-\U0001087d\U000108a7-\U000108ac\U000108fb-\U000108fc"
    r"\U00010916\U0001091a-\U0001091b\U000109c0-\U000109c8\U00010a7d\U00010a9d"
    r"\U00010aeb-\U00010aec\U00010b58-\U00010b5b\U00010b78-\U00010b7b\U00010ba9-\U00010bac"
    r"\U00010cfa-\U00010cfb\U00010f1d-\U00010f21\U00010f51\U00010fc5-\U00010fc8"
    r"\U000111e1-\U000111e9\U00011c5a-\U00011c62\U00012400-\U00012431\U00012434-\U00012459"
    r"\U00012469-\U0001246e\U00016e80-\U00016e89\U00016e94-\U00016e96\U0001d2e0-\U0001d2e9"
    r"\U0001d360-\U0001d368\U0001d372-\U0001d378\U0001e8c7-\U0001e8cf\U0001ec71-\U0001ec79"
    r"\U0001eca3-\U0001ecab\U0001ecb1-\U0001ecb2\U0001ed01-\U0001ed09\U0001ed2f-\U0001ed36"
    r"\U0001f10b-\U0001f10c\U00020001\U00020064\U000200e2\U00020121\U0002092a\U00020aea"
    r"\U00020afd\U00020b19\U00022390\U00022998\U00023b1b\U0002626d\U0002f890"
)

#: What joins two digit groups when it stands alone between them, beyond the
#: gaps: a cased letter (Lu, Ll, Lt: Latin, Greek, Cyrillic…, as in 139x1234x5678)
#: or a numeric character that is no digit (No, Nl: ½, ⑩, Ⅻ). Not the letters of
#: scripts without case (CJK ideographs, kana, Hangul…), where one letter is a
#: word: the 年 and 月 of 2026年3月5日.
JOINERS_BMP = (
    r"\u0041-\u005a\u0061-\u007a\u00b5\u00bc-\u00be\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba"
    r"\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373\u0376-\u0377\u037b-\u037d\u037f"
    r"\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f"
    r"\u0531-\u0556\u0560-\u0588\u09f4-\u09f9\u0b72-\u0b77\u0bf0-\u0bf2\u0d58-\u0d5e"
    r"\u0d70-\u0d78\u0f2a-\u0f33\u10a0-\u10c5\u10c7\u10cd\u10d0-\u10fa\u10fd-\u10ff"
    r"\u1372-\u137c\u13a0-\u13f5\u13f8-\u13fd\u16ee-\u16f0\u1c80-\u1c88\u1c90-\u1cba"
    r"\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d"
    r"\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4"
    r"\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec"
    r"\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128"
    r"\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2150-\u215e"
    r"\u2169-\u216f\u2179-\u2184\u2186-\u2188\u2469-\u2473\u247d-\u2487\u2491-\u249b"
    r"\u24eb-\u24f4\u24fe\u277f\u2789\u2793\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee"
    r"\u2cf2-\u2cf3\u2cfd\u2d00-\u2d25\u2d27\u2d2d\u3038-\u303a\u3229\u3248-\u324f"
    r"\u3251-\u325f\u3289\u32b1-\u32bf\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787"
    r"\ua78b-\ua78e\ua790-\ua7ca\ua7d0-\ua7d1\ua7d3\ua7d5-\ua7d9\ua7f5-\ua7f6\ua7fa"
    r"\ua830-\ua835\uab30-\uab5a\uab60-\uab68\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17"
    r"\uff21-\uff3a\uff41-\uff5a"
)

#: The same beyond U+FFFF (mathematical letters, historic scripts).
JOINERS_ASTRAL = (
    r"\U00010110-\U00010133\U00010140-\U00010141\U00010144-\U00010147\U00010149-\U0001014e"
    r"\U00010150-\U00010157\U00010160-\U00010172\U00010174-\U00010178\U0001018b"
    r"\U000102ea-\U000102fb\U00010322-\U00010323\U00010341\U0001034a\U000103d3-\U000103d5"
    r"\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010570-\U0001057a"
    r"\U0001057c-\U0001058a\U0001058c-\U00010592\U00010594-\U00010595\U00010597-\U000105a1"
    r"\U000105a3-\U000105b1\U000105b3-\U000105b9\U000105bb-\U000105bc\U0001085b-\U0001085f"
    r"\U0001087e-\U0001087f\U000108ad-\U000108af\U000108fd-\U000108ff\U00010917-\U00010919"
    r"\U000109bc-\U000109bd\U000109c9-\U000109cf\U000109d2-\U000109ff\U00010a44-\U00010a48"
    r"\U00010a7e\U00010a9e-\U00010a9f\U00010aed-\U00010aef\U00010b5c-\U00010b5f"
    r"\U00010b7c-\U00010b7f\U00010bad-\U00010baf\U00010c80-\U00010cb2\U00010cc0-\U00010cf2"
    r"\U00010cfc-\U00010cff\U00010e69-\U00010e7e\U00010f22-\U00010f26\U00010f52-\U00010f54"
    r"\U00010fc9-\U00010fcb\U0001105b-\U00011065\U000111ea-\U000111f4\U0001173a-\U0001173b"
    r"\U000118a0-\U000118df\U000118ea-\U000118f2\U00011c63-\U00011c6c\U00011fc0-\U00011fd4"
    r"\U00012432-\U00012433\U0001245a-\U00012468\U00016b5b-\U00016b61\U00016e40-\U00016e7f"
    r"\U00016e8a-\U00016e93\U0001d2ea-\U0001d2f3\U0001d369-\U0001d371\U0001d400-\U0001d454"
    r"\U0001d456-\U0001d49c\U0001d49e-\U0001d49f\U0001d4a2\U0001d4a5-\U0001d4a6"
    r"\U0001d4a9-\U0001d4ac\U0001d4ae-\U0001d4b9\U0001d4bb\U0001d4bd-\U0001d4c3"
    r"\U0001d4c5-\U0001d505\U0001d507-\U0001d50a\U0001d50d-\U0001d514\U0001d516-\U0001d51c"
    r"\U0001d51e-\U0001d539\U0001d53b-\U0001d53e\U0001d540-\U0001d544\U0001d546"
    r"\U0001d54a-\U0001d550\U0001d552-\U0001d6a5\U0001d6a8-\U0001d6c0\U0001d6c2-\U0001d6da"
    r"\U0001d6dc-\U0001d6fa\U0001d6fc-\U0001d714\U0001d716-\U0001d734\U0001d736-\U0001d74e"
    r"\U0001d750-\U0001d76e\U0001d770-\U0001d788\U0001d78a-\U0001d7a8\U0001d7aa-\U0001d7c2"
    r"\U0001d7c4-\U0001d7cb\U0001df00-\U0001df09\U0001df0b-\U0001df1e\U0001e900-\U0001e943"
    r"\U0001ec7a-\U0001eca2\U0001ecad-\U0001ecaf\U0001ecb3-\U0001ecb4\U0001ed0a-\U0001ed2d"
    r"\U0001ed37-\U0001ed3d"
)
