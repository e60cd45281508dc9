//! The namespace URIs of C3P and conference-info documents ([MS-CONFPRO] 2.2.2, 2.2.3;
//! [MS-CONFBAS] 6.3). Elements are matched by these URIs, never by prefix.

/// C3P requests and responses (`request`, `response` and the command elements).
pub const CCCP: &str = "urn:ietf:params:xml:ns:cccp";
/// RFC 4575 conference state.
pub const CI: &str = "urn:ietf:params:xml:ns:conference-info";
/// Microsoft conference-info extensions of OCS 2007 ([MS-CONFBAS] 6.3.2).
pub const MSCI: &str = "http://schemas.microsoft.com/rtc/2005/08/confinfoextensions";
/// Microsoft conference-info extensions of OCS 2007 R2 (lobby).
pub const MSCI2: &str = "http://schemas.microsoft.com/rtc/2008/12/confinfoextensions";
/// Microsoft C3P extensions (`mscp:mcuUri`).
pub const MSCP: &str = "http://schemas.microsoft.com/rtc/2005/08/cccpextensions";
/// The schema-version separator (`cis:separator`).
pub const CIS: &str = "urn:ietf:params:xml:ns:conference-info-separator";
