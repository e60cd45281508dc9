//! Open enumerations: the values a spec lists, plus `Other` for any other token, so that a
//! value this crate does not know survives a parse and write unchanged.

macro_rules! token_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value not listed here, kept as written.
            Other(bytestring::ByteString),
        }

        impl $name {
            /// The value as written on the wire.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::Other(s) => s,
                }
            }

            /// Every listed value.
            pub const ALL: &'static [$name] = &[$( $name::$variant ),+];

            /// Reads a value (white space around it is ignored, as for `xs:token`).
            #[must_use]
            pub fn parse(s: &str) -> $name {
                let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
                match t {
                    $( $text => $name::$variant, )+
                    _ => $name::Other(bytestring::ByteString::from(t)),
                }
            }

            #[allow(dead_code)]
            pub(crate) fn from_shared(s: bytestring::ByteString) -> $name {
                match Self::parse(&s) {
                    $name::Other(_) if s.trim_matches(|c: char| c.is_ascii_whitespace()).len() == s.len() => $name::Other(s),
                    v => v,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok($name::parse(s))
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

/// The writers every document type offers, over its `write_to`.
macro_rules! document_writers {
    ($t:ty, $what:literal, $capacity:expr) => {
        impl $t {
            #[doc = concat!("Writes the ", $what, " (UTF-8, no XML declaration) at the end of `out`. Allocates only when `out` must grow.")]
            pub fn write(&self, out: &mut Vec<u8>) {
                self.write_to(&mut crate::xml::Writer { s: out });
            }

            #[doc = concat!("Writes the ", $what, " into `buf`, returning its length.")]
            ///
            /// # Errors
            /// [`Error::BufferTooSmall`](crate::Error::BufferTooSmall) with the size needed.
            pub fn write_slice(&self, buf: &mut [u8]) -> Result<usize, crate::Error> {
                crate::xml::write_slice(buf, |w| self.write_to(w))
            }

            #[doc = concat!("The ", $what, " as bytes.")]
            #[must_use]
            pub fn to_bytes(&self) -> bytes::Bytes {
                let mut v = Vec::with_capacity($capacity);
                self.write(&mut v);
                bytes::Bytes::from(v)
            }
        }
    };
}
