//! C3P messages: the `request` / `response` envelope ([MS-CONFPRO] 2.2.2, 2.2.3;
//! [MS-CONFBAS] 2.2.1) and the commands with their typed bodies.
//!
//! One [`Body`] type serves both directions: a request carries the command's parameters, the
//! response echoes the keys and adds results (the conference-info of `addConference`, the MCU
//! types of `getAvailableMcuTypes`, the granted role and `connection-info` of `addUser`...).
//! A failure response names its cause in the `reason` attribute of the command element
//! ([MS-CONFPRO] 3.1.5.3).
//!
//! Where the public record is silent (the schemas of `getConferences`, `getEncryptionKey`,
//! `setLobbyAccess` and `modifyEndpointRole`, and most `reason` values), the shapes chosen
//! here are documented on each variant.

use bytestring::ByteString;

use crate::error::Error;
use crate::info::{ConferenceInfo, Media, Role, User, read_roles, write_user_roles};
use crate::uri::McuType;
use crate::xml::{
    Element, Extensions, Ns, Reader, Sink, Start, Writer, fmt_u64, itoa_buf, parse_bool, parse_u64,
};

/// The response code ([MS-CONFPRO] 2.2.3: `success` or `failure`; OCS 2007 R2 also answers
/// `pending` before a final response, e.g. while a user waits in the lobby).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Code {
    /// The command succeeded.
    Success,
    /// The command failed; see the reason.
    Failure,
    /// The command is accepted and a final response will follow.
    Pending,
}

impl Code {
    /// The value as written.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Success => "success",
            Code::Failure => "failure",
            Code::Pending => "pending",
        }
    }
}

token_enum! {
    /// Why a command failed (the `reason` attribute of the command element in a failure
    /// response). `otherFailure` is the value [MS-CONFBAS] 2.2.3.6 names; the others are the
    /// failure causes UCMA 2.0 lists (`CommandFailureReasons`), written in lower camel case —
    /// this crate's choice, as their XML spelling was not in the public pages available.
    Reason {
        /// A failure without a more specific cause.
        OtherFailure => "otherFailure",
        /// No such conference.
        ConferenceDoesNotExist => "conferenceDoesNotExist",
        /// A conference with this ID exists already.
        ConferenceExists => "conferenceExists",
        /// The sender may not do this (role, lock, lobby denied).
        Forbidden => "forbidden",
        /// The admission policy is not one of the known values.
        InvalidAdmissionPolicy => "invalidAdmissionPolicy",
        /// The conference ID is not 8 to 32 alphanumerics.
        InvalidConferenceId => "invalidConferenceId",
        /// The expiry time is in the past or too far ahead.
        InvalidExpiryTime => "invalidExpiryTime",
        /// The role is not one the conference grants.
        InvalidRole => "invalidRole",
        /// The user entity is not a user of the conference.
        InvalidUserEntity => "invalidUserEntity",
        /// The organizer has too many conferences.
        MaximumConferencesExceeded => "maximumConferencesExceeded",
        /// The conference is full.
        MaximumMeetingSizeExceeded => "maximumMeetingSizeExceeded",
        /// The MCU type is not available.
        McuTypeNotAvailable => "mcuTypeNotAvailable",
        /// No such endpoint.
        EndpointDoesNotExist => "endpointDoesNotExist",
        /// No such media.
        MediaDoesNotExist => "mediaDoesNotExist",
        /// The command is not supported.
        NotSupported => "notSupported",
    }
}

token_enum! {
    /// The decision of `setLobbyAccess`.
    LobbyAccess {
        /// Admit the users.
        Granted => "granted",
        /// Turn them away.
        Denied => "denied",
    }
}

/// `msci:encryption-key` in conference keys: the client certificate a `getConference`
/// request gives ([MS-CONFPRO] 4.5) and, in responses, the key (this crate's choice:
/// `msci:key`, hex).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct EncryptionKey {
    /// `msci:x509-certificate` (hex).
    pub x509_certificate: Option<ByteString>,
    /// `msci:key`.
    pub key: Option<ByteString>,
    /// Extension content.
    pub ext: Extensions,
}

/// The keys that name what a command acts on: `conferenceKeys`, `userKeys`, `endpointKeys`
/// or `mediaKeys` ([MS-CONFBAS] 2.2.3; which one is fixed by the command).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Keys {
    /// `confEntity`: the focus URI.
    pub conf_entity: Option<ByteString>,
    /// `userEntity`.
    pub user_entity: Option<ByteString>,
    /// `endpointEntity`.
    pub endpoint_entity: Option<ByteString>,
    /// `mediaId`.
    pub media_id: Option<ByteString>,
    /// `msci:conference-id` (a focus-factory `getConference`, [MS-CONFPRO] 4.5).
    pub conference_id: Option<ByteString>,
    /// `msci:encryption-key`.
    pub encryption_key: Option<EncryptionKey>,
    /// Extension content.
    pub ext: Extensions,
}

impl Keys {
    /// Keys naming a conference.
    #[must_use]
    pub fn conference(conf_entity: impl Into<ByteString>) -> Keys {
        Keys {
            conf_entity: Some(conf_entity.into()),
            ..Keys::default()
        }
    }

    /// Keys naming a user of a conference.
    #[must_use]
    pub fn user(conf_entity: impl Into<ByteString>, user_entity: impl Into<ByteString>) -> Keys {
        Keys {
            user_entity: Some(user_entity.into()),
            ..Keys::conference(conf_entity)
        }
    }
}

/// A dial-in region of `getConferencingCapabilities` (`pstn-bridging/access-numbers/region`,
/// as Office Communicator reads it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Region {
    /// `name`.
    pub name: ByteString,
    /// `access-number/number`.
    pub numbers: Vec<ByteString>,
}

/// `pstn-bridging` of `getConferencingCapabilities`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PstnBridging {
    /// `access-numbers/region`.
    pub regions: Vec<Region>,
    /// `access-numbers/default-region`.
    pub default_region: Option<ByteString>,
    /// Extension content.
    pub ext: Extensions,
}

/// A command with its typed body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Body {
    /// `addConference` ([MS-CONFPRO] 2.2.2, 4.1): to the focus factory; the request carries the
    /// conference-info to create (empty entity), the response the focus URI as its entity.
    AddConference {
        /// `conference-info`.
        info: Option<Box<ConferenceInfo>>,
    },
    /// `modifyConference` ([MS-CONFBAS] 4.4.10): a partial conference-info; with
    /// `mscp:mcuUri`, aimed at one MCU's entity view.
    ModifyConference {
        /// `conference-info`.
        info: Option<Box<ConferenceInfo>>,
    },
    /// `deleteConference` ([MS-CONFBAS] 2.2.3.14): `conferenceKeys` in the request,
    /// `conference-info` (entity only) in the response.
    DeleteConference {
        /// `conferenceKeys`.
        keys: Option<Keys>,
        /// `conference-info`.
        info: Option<Box<ConferenceInfo>>,
    },
    /// `getConference` ([MS-CONFPRO] 4.5, [MS-CONFBAS] 4.4.7): by focus URI or by
    /// conference ID; the response carries the conference-info.
    GetConference {
        /// `conferenceKeys`.
        keys: Option<Keys>,
        /// `conference-info`.
        info: Option<Box<ConferenceInfo>>,
    },
    /// `getConferences`: the organizer's conferences (this crate's choice: an empty request,
    /// one `conference-info` per conference in the response).
    GetConferences {
        /// `conference-info` elements.
        infos: Vec<ConferenceInfo>,
    },
    /// `getAvailableMcuTypes` ([MS-CONFPRO] 2.2.2.7, 4.7): `mcu-types/mcuType` in the response.
    GetAvailableMcuTypes {
        /// `mcu-types`.
        mcu_types: Option<Vec<McuType>>,
    },
    /// `getConferencingCapabilities`: MCU types and dial-in numbers.
    GetConferencingCapabilities {
        /// `mcu-types`.
        mcu_types: Option<Vec<McuType>>,
        /// `pstn-bridging`.
        pstn_bridging: Option<PstnBridging>,
    },
    /// `getEncryptionKey`: the conference's key for web-conferencing content (this crate's
    /// choice: `conferenceKeys` in both directions, the key in `msci:encryption-key/msci:key`).
    GetEncryptionKey {
        /// `conferenceKeys`.
        keys: Option<Keys>,
    },
    /// `addUser` ([MS-CONFBAS] 2.2.3.3, 2.2.3.4, 2.2.3.15, 2.2.3.18): a join (INVITE to the
    /// focus), a dial-out (`joining-method` `dialed-out`) or a dial-in to an MCU
    /// (`mscp:mcuUri`), whose response carries `connection-info`.
    AddUser {
        /// `conferenceKeys`.
        keys: Option<Keys>,
        /// `ci:user`.
        user: Option<Box<User>>,
    },
    /// `deleteUser`: removes a user (or, sent by the user, leaves).
    DeleteUser {
        /// `userKeys`.
        keys: Option<Keys>,
    },
    /// `modifyUserRoles`: `userKeys` and `ci:user-roles`.
    ModifyUserRoles {
        /// `userKeys`.
        keys: Option<Keys>,
        /// `user-roles/entry`.
        roles: Option<Vec<Role>>,
    },
    /// `modifyEndpointRole`: one endpoint's role at its MCU (this crate's choice:
    /// `endpointKeys` and `ci:user-roles`).
    ModifyEndpointRole {
        /// `endpointKeys`.
        keys: Option<Keys>,
        /// `user-roles/entry`.
        roles: Option<Vec<Role>>,
    },
    /// `modifyEndpointMedia` ([MS-CONFAV] 3.2.5.4, 4.3): `mediaKeys` and `ci:media` with the
    /// new status and filters, aimed at the A/V MCU by `mscp:mcuUri`.
    ModifyEndpointMedia {
        /// `mediaKeys`.
        keys: Option<Keys>,
        /// `ci:media`.
        media: Option<Box<Media>>,
    },
    /// `modifyConferenceLock`: `conferenceKeys` and `locked`.
    ModifyConferenceLock {
        /// `conferenceKeys`.
        keys: Option<Keys>,
        /// `locked`.
        locked: Option<bool>,
    },
    /// `setLobbyAccess`: admits or turns away users waiting in the lobby (this crate's choice:
    /// `conferenceKeys`, one `userEntity` per user, `access` `granted` or `denied`).
    SetLobbyAccess {
        /// `conferenceKeys`.
        keys: Option<Keys>,
        /// `userEntity` elements.
        users: Vec<ByteString>,
        /// `access`.
        access: Option<LobbyAccess>,
    },
    /// A command this crate does not know, kept whole (a focus answers it with
    /// [MS-OCER] 3004, "command not implemented").
    Unknown(Element),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    AddConference,
    ModifyConference,
    DeleteConference,
    GetConference,
    GetConferences,
    GetAvailableMcuTypes,
    GetConferencingCapabilities,
    GetEncryptionKey,
    AddUser,
    DeleteUser,
    ModifyUserRoles,
    ModifyEndpointRole,
    ModifyEndpointMedia,
    ModifyConferenceLock,
    SetLobbyAccess,
}

const KINDS: [(&str, Kind); 15] = [
    ("addConference", Kind::AddConference),
    ("modifyConference", Kind::ModifyConference),
    ("deleteConference", Kind::DeleteConference),
    ("getConference", Kind::GetConference),
    ("getConferences", Kind::GetConferences),
    ("getAvailableMcuTypes", Kind::GetAvailableMcuTypes),
    (
        "getConferencingCapabilities",
        Kind::GetConferencingCapabilities,
    ),
    ("getEncryptionKey", Kind::GetEncryptionKey),
    ("addUser", Kind::AddUser),
    ("deleteUser", Kind::DeleteUser),
    ("modifyUserRoles", Kind::ModifyUserRoles),
    ("modifyEndpointRole", Kind::ModifyEndpointRole),
    ("modifyEndpointMedia", Kind::ModifyEndpointMedia),
    ("modifyConferenceLock", Kind::ModifyConferenceLock),
    ("setLobbyAccess", Kind::SetLobbyAccess),
];

impl Kind {
    fn keys_element(self) -> Option<&'static str> {
        Some(match self {
            Kind::DeleteConference
            | Kind::GetConference
            | Kind::GetEncryptionKey
            | Kind::AddUser
            | Kind::ModifyConferenceLock
            | Kind::SetLobbyAccess => "conferenceKeys",
            Kind::DeleteUser | Kind::ModifyUserRoles => "userKeys",
            Kind::ModifyEndpointRole => "endpointKeys",
            Kind::ModifyEndpointMedia => "mediaKeys",
            _ => return None,
        })
    }
}

impl Body {
    /// The `addUser` a client sends to its focus to join the conference (the INVITE's C3P):
    /// the user `user_uri` asking for the attendee role — the focus grants what policy gives —
    /// with one endpoint, `endpoint`, that can wait in the lobby (`msci2:lobby-capable`, as
    /// Office Communicator 2007 says).
    ///
    /// ```
    /// use ocs_cccp::message::{Body, Request};
    /// let focus = "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:DEMO0001";
    /// let body = Body::join(focus, "sip:bob@contoso.com", "{bob-pc}");
    /// let Body::AddUser { keys, user: Some(u) } = &body else { panic!() };
    /// assert_eq!(keys.as_ref().unwrap().conf_entity.as_deref(), Some(focus));
    /// assert_eq!(u.endpoints[0].client_info.as_ref().unwrap().lobby_capable, Some(true));
    /// let bytes = Request::new(1, "sip:bob@contoso.com", focus, body).to_bytes();
    /// assert!(std::str::from_utf8(&bytes).unwrap().contains("addUser"));
    /// ```
    #[must_use]
    pub fn join(focus: &str, user_uri: &str, endpoint: &str) -> Body {
        use crate::info::{ClientInfo, Endpoint};
        Body::AddUser {
            keys: Some(Keys::conference(focus)),
            user: Some(Box::new(User {
                entity: user_uri.into(),
                roles: Some(vec![Role::Attendee]),
                endpoints: vec![Endpoint {
                    entity: endpoint.into(),
                    client_info: Some(ClientInfo {
                        lobby_capable: Some(true),
                        ..ClientInfo::default()
                    }),
                    ..Endpoint::default()
                }],
                ..User::default()
            })),
        }
    }

    /// The command element's name (`addUser`, ...).
    #[must_use]
    pub fn name(&self) -> &str {
        match self.kind() {
            Some(k) => KINDS.iter().find(|(_, x)| *x == k).map_or("", |(n, _)| n),
            None => match self {
                Body::Unknown(e) => &e.name,
                _ => "",
            },
        }
    }

    fn kind(&self) -> Option<Kind> {
        Some(match self {
            Body::AddConference { .. } => Kind::AddConference,
            Body::ModifyConference { .. } => Kind::ModifyConference,
            Body::DeleteConference { .. } => Kind::DeleteConference,
            Body::GetConference { .. } => Kind::GetConference,
            Body::GetConferences { .. } => Kind::GetConferences,
            Body::GetAvailableMcuTypes { .. } => Kind::GetAvailableMcuTypes,
            Body::GetConferencingCapabilities { .. } => Kind::GetConferencingCapabilities,
            Body::GetEncryptionKey { .. } => Kind::GetEncryptionKey,
            Body::AddUser { .. } => Kind::AddUser,
            Body::DeleteUser { .. } => Kind::DeleteUser,
            Body::ModifyUserRoles { .. } => Kind::ModifyUserRoles,
            Body::ModifyEndpointRole { .. } => Kind::ModifyEndpointRole,
            Body::ModifyEndpointMedia { .. } => Kind::ModifyEndpointMedia,
            Body::ModifyConferenceLock { .. } => Kind::ModifyConferenceLock,
            Body::SetLobbyAccess { .. } => Kind::SetLobbyAccess,
            Body::Unknown(_) => return None,
        })
    }

    /// The keys of the body, if it has any.
    #[must_use]
    pub fn keys(&self) -> Option<&Keys> {
        match self {
            Body::DeleteConference { keys, .. }
            | Body::GetConference { keys, .. }
            | Body::GetEncryptionKey { keys }
            | Body::AddUser { keys, .. }
            | Body::DeleteUser { keys }
            | Body::ModifyUserRoles { keys, .. }
            | Body::ModifyEndpointRole { keys, .. }
            | Body::ModifyEndpointMedia { keys, .. }
            | Body::ModifyConferenceLock { keys, .. }
            | Body::SetLobbyAccess { keys, .. } => keys.as_ref(),
            _ => None,
        }
    }

    /// The same command with no parameters or results but its keys (the body of most
    /// responses, which echo the request's keys).
    #[must_use]
    pub fn echo(&self) -> Body {
        let keys = self.keys().cloned();
        match self {
            Body::AddConference { .. } => Body::AddConference { info: None },
            Body::ModifyConference { .. } => Body::ModifyConference { info: None },
            Body::DeleteConference { .. } => Body::DeleteConference { keys, info: None },
            Body::GetConference { .. } => Body::GetConference { keys, info: None },
            Body::GetConferences { .. } => Body::GetConferences { infos: Vec::new() },
            Body::GetAvailableMcuTypes { .. } => Body::GetAvailableMcuTypes { mcu_types: None },
            Body::GetConferencingCapabilities { .. } => Body::GetConferencingCapabilities {
                mcu_types: None,
                pstn_bridging: None,
            },
            Body::GetEncryptionKey { .. } => Body::GetEncryptionKey { keys },
            Body::AddUser { .. } => Body::AddUser { keys, user: None },
            Body::DeleteUser { .. } => Body::DeleteUser { keys },
            Body::ModifyUserRoles { .. } => Body::ModifyUserRoles { keys, roles: None },
            Body::ModifyEndpointRole { .. } => Body::ModifyEndpointRole { keys, roles: None },
            Body::ModifyEndpointMedia { .. } => Body::ModifyEndpointMedia { keys, media: None },
            Body::ModifyConferenceLock { .. } => Body::ModifyConferenceLock { keys, locked: None },
            Body::SetLobbyAccess { .. } => Body::SetLobbyAccess {
                keys,
                users: Vec::new(),
                access: None,
            },
            Body::Unknown(e) => Body::Unknown(Element {
                children: Vec::new(),
                ..e.clone()
            }),
        }
    }
}

/// A command: its body, the MCU it targets and its extension content.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Command {
    /// The typed body.
    pub body: Body,
    /// `mscp:mcuUri`: the MCU conference URI the focus should pass the command to.
    pub mcu_uri: Option<ByteString>,
    /// Extension content of the command element.
    pub ext: Extensions,
}

impl From<Body> for Command {
    fn from(body: Body) -> Command {
        Command {
            body,
            mcu_uri: None,
            ext: Extensions::default(),
        }
    }
}

/// A C3P request ([MS-CONFPRO] 2.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Request {
    /// `requestId`: unique among the sender's requests.
    pub request_id: u64,
    /// `from`: the sender (the organizer for provisioning).
    pub from: ByteString,
    /// `to`: equal to the SIP To URI.
    pub to: ByteString,
    /// `C3PVersion` (`1` when present).
    pub c3p_version: Option<ByteString>,
    /// The command.
    pub command: Command,
    /// Extension content of the `request` element.
    pub ext: Extensions,
}

/// A C3P response ([MS-CONFPRO] 2.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Response {
    /// `requestId`, copied from the request.
    pub request_id: u64,
    /// `from`: the request's `to`.
    pub from: ByteString,
    /// `to`: the request's `from`.
    pub to: ByteString,
    /// `code`.
    pub code: Code,
    /// The `reason` attribute of the command element in a failure.
    pub reason: Option<Reason>,
    /// `C3PVersion`.
    pub c3p_version: Option<ByteString>,
    /// The command with its results.
    pub command: Command,
    /// Extension content of the `response` element.
    pub ext: Extensions,
}

/// A C3P document: a request or a response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[allow(clippy::large_enum_variant)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Request {
    /// A request with `C3PVersion="1"`.
    #[must_use]
    pub fn new(
        request_id: u64,
        from: impl Into<ByteString>,
        to: impl Into<ByteString>,
        command: impl Into<Command>,
    ) -> Request {
        Request {
            request_id,
            from: from.into(),
            to: to.into(),
            c3p_version: Some(ByteString::from_static("1")),
            command: command.into(),
            ext: Extensions::default(),
        }
    }

    /// A response to this request: `requestId` copied, `from` and `to` swapped.
    #[must_use]
    pub fn respond(&self, code: Code, body: Body) -> Response {
        Response {
            request_id: self.request_id,
            from: self.to.clone(),
            to: self.from.clone(),
            code,
            reason: None,
            c3p_version: self.c3p_version.clone(),
            command: Command {
                body,
                mcu_uri: self.command.mcu_uri.clone(),
                ext: Extensions::default(),
            },
            ext: Extensions::default(),
        }
    }

    /// A failure response echoing the request's keys.
    #[must_use]
    pub fn fail(&self, reason: Reason) -> Response {
        let mut r = self.respond(Code::Failure, self.command.body.echo());
        r.reason = Some(reason);
        r
    }

    /// Parses a request (a response is an error).
    ///
    /// # Errors
    /// As [`Message::parse`], or [`Error::UnexpectedRoot`] for a response.
    pub fn parse(input: impl Into<bytes::Bytes>) -> Result<Request, Error> {
        match Message::parse(input)? {
            Message::Request(r) => Ok(r),
            Message::Response(_) => Err(Error::UnexpectedRoot {
                expected: "request",
                offset: 0,
            }),
        }
    }

    fn write_to<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.open("", "request");
        w.attr("xmlns", crate::ns::CCCP);
        if self.command.mcu_uri.is_some() {
            w.attr("xmlns:mscp", crate::ns::MSCP);
        }
        w.opt_attr("C3PVersion", self.c3p_version.as_deref());
        w.attr("to", &self.to);
        w.attr("from", &self.from);
        let mut b = itoa_buf();
        w.attr("requestId", fmt_u64(&mut b, self.request_id));
        w.ext_attrs(&self.ext.attributes);
        w.gt();
        write_command(w, &self.command, None);
        w.ext_elements(&self.ext);
        w.close("", "request");
    }
}

impl Response {
    /// Parses a response (a request is an error).
    ///
    /// # Errors
    /// As [`Message::parse`], or [`Error::UnexpectedRoot`] for a request.
    pub fn parse(input: impl Into<bytes::Bytes>) -> Result<Response, Error> {
        match Message::parse(input)? {
            Message::Response(r) => Ok(r),
            Message::Request(_) => Err(Error::UnexpectedRoot {
                expected: "response",
                offset: 0,
            }),
        }
    }

    fn write_to<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.open("", "response");
        w.attr("xmlns", crate::ns::CCCP);
        if self.command.mcu_uri.is_some() {
            w.attr("xmlns:mscp", crate::ns::MSCP);
        }
        w.opt_attr("C3PVersion", self.c3p_version.as_deref());
        let mut b = itoa_buf();
        w.attr("requestId", fmt_u64(&mut b, self.request_id));
        w.attr("from", &self.from);
        w.attr("to", &self.to);
        w.attr("code", self.code.as_str());
        w.ext_attrs(&self.ext.attributes);
        w.gt();
        write_command(w, &self.command, self.reason.as_ref());
        w.ext_elements(&self.ext);
        w.close("", "response");
    }
}

document_writers!(Request, "request (an `application/cccp+xml` body)", 512);
document_writers!(Response, "response", 512);

impl Message {
    /// Parses a C3P document (an `application/cccp+xml` body).
    ///
    /// # Errors
    /// Malformed XML, a DTD, an entity other than the predefined ones, an exceeded limit, a
    /// root other than `request`/`response` in the C3P namespace, missing or invalid envelope
    /// attributes, not exactly one command, or a command body that does not fit its schema —
    /// each with the byte offset.
    pub fn parse(input: impl Into<bytes::Bytes>) -> Result<Message, Error> {
        Self::parse_with(input, &crate::Limits::default())
    }

    /// [`Message::parse`] with explicit limits.
    ///
    /// # Errors
    /// As [`Message::parse`].
    pub fn parse_with(
        input: impl Into<bytes::Bytes>,
        limits: &crate::Limits,
    ) -> Result<Message, Error> {
        let src = crate::utf8(input.into())?;
        let mut r = Reader::new(&src, limits)?;
        let root = r.root()?;
        let is_request = match (root.ns, root.local()) {
            (Ns::Cccp, "request") => true,
            (Ns::Cccp, "response") => false,
            _ => {
                return Err(Error::UnexpectedRoot {
                    expected: "request or response in urn:ietf:params:xml:ns:cccp",
                    offset: root.offset,
                });
            }
        };
        let offset = root.offset;
        let mut request_id = None;
        let (mut from, mut to, mut code, mut version) = (None, None, None, None);
        let mut ext = Extensions::default();
        r.attrs(&root, |r, a| {
            match (a.ns, a.local) {
                (Ns::None, "requestId") => {
                    request_id = Some(parse_u64(&a.value, "requestId", offset)?)
                }
                (Ns::None, "from") => from = Some(r.share_cow(a.value)),
                (Ns::None, "to") => to = Some(r.share_cow(a.value)),
                (Ns::None, "C3PVersion") => version = Some(r.share_cow(a.value)),
                (Ns::None, "code") if !is_request => {
                    code = Some(match a.value.trim() {
                        "success" => Code::Success,
                        "failure" => Code::Failure,
                        "pending" => Code::Pending,
                        _ => {
                            return Err(Error::InvalidValue {
                                what: "code (success, failure or pending)",
                                offset,
                            });
                        }
                    });
                }
                _ => ext.attributes.push(r.keep_attr(&a)),
            }
            Ok(())
        })?;
        let missing = |what| Error::MissingAttribute { what, offset };
        let request_id = request_id.ok_or(missing("requestId"))?;
        let from = from.ok_or(missing("from"))?;
        let to = to.ok_or(missing("to"))?;
        let mut command: Option<(Command, Option<Reason>)> = None;
        while let Some(c) = r.next(if is_request { "request" } else { "response" })? {
            if c.ns == Ns::Cccp {
                let at = c.offset;
                if command.is_some() {
                    return Err(Error::DuplicateElement {
                        what: "command (exactly one is allowed)",
                        offset: at,
                    });
                }
                command = Some(read_command(&mut r, c)?);
            } else {
                ext.elements.push(r.capture(c)?);
            }
        }
        r.finish()?;
        let (command, reason) = command.ok_or(Error::MissingElement {
            what: "command",
            context: if is_request { "request" } else { "response" },
            offset,
        })?;
        Ok(if is_request {
            Message::Request(Request {
                request_id,
                from,
                to,
                c3p_version: version,
                command,
                ext,
            })
        } else {
            Message::Response(Response {
                request_id,
                from,
                to,
                code: code.ok_or(missing("code"))?,
                reason,
                c3p_version: version,
                command,
                ext,
            })
        })
    }

    /// Writes the document at the end of `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request(r) => r.write(out),
            Message::Response(r) => r.write(out),
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Bag {
    keys: Option<Keys>,
    info: Option<Box<ConferenceInfo>>,
    infos: Vec<ConferenceInfo>,
    user: Option<Box<User>>,
    roles: Option<Vec<Role>>,
    media: Option<Box<Media>>,
    locked: Option<bool>,
    users: Vec<ByteString>,
    access: Option<LobbyAccess>,
    mcu_types: Option<Vec<McuType>>,
    pstn: Option<PstnBridging>,
}

fn once<T>(slot: &mut Option<T>, v: T, what: &'static str, offset: usize) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::DuplicateElement { what, offset });
    }
    *slot = Some(v);
    Ok(())
}

/// The most `conference-info` elements in `getConferences` and `userEntity` elements in
/// `setLobbyAccess`.
const MAX_LIST: usize = 10_000;

fn read_command<'i>(
    r: &mut Reader<'i>,
    start: Start<'i>,
) -> Result<(Command, Option<Reason>), Error> {
    let name = start.local();
    let Some(kind) = KINDS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k) else {
        let mut e = r.capture(start)?;
        let reason = e
            .attributes
            .iter()
            .position(|a| a.ns.is_none() && a.name == "reason")
            .map(|i| Reason::from_shared(e.attributes.remove(i).value));
        return Ok((Body::Unknown(e).into(), reason));
    };
    let mut mcu_uri = None;
    let mut reason = None;
    let mut ext = Extensions::default();
    r.attrs(&start, |r, a| {
        match (a.ns, a.local) {
            (Ns::Mscp | Ns::None, "mcuUri") => mcu_uri = Some(r.share_cow(a.value)),
            (Ns::None, "reason") => reason = Some(Reason::from_shared(r.share_cow(a.value))),
            _ => ext.attributes.push(r.keep_attr(&a)),
        }
        Ok(())
    })?;
    let keys_name = kind.keys_element();
    let mut b = Bag::default();
    while let Some(c) = r.next("command")? {
        let at = c.offset;
        let ci = c.ns.is_ci();
        let cccp = c.ns == Ns::Cccp;
        let local = c.local();
        use Kind as K;
        match local {
            n if cccp && Some(n) == keys_name => once(&mut b.keys, read_keys(r, c)?, "keys", at)?,
            "conference-info"
                if ci
                    && matches!(
                        kind,
                        K::AddConference
                            | K::ModifyConference
                            | K::DeleteConference
                            | K::GetConference
                    ) =>
            {
                once(
                    &mut b.info,
                    Box::new(ConferenceInfo::read(r, c)?),
                    "conference-info",
                    at,
                )?;
            }
            "conference-info" if ci && kind == K::GetConferences => {
                if b.infos.len() >= MAX_LIST {
                    return Err(Error::TooMany {
                        what: "conference-info elements",
                        limit: MAX_LIST,
                        offset: at,
                    });
                }
                b.infos.push(ConferenceInfo::read(r, c)?);
            }
            "user" if ci && kind == K::AddUser => {
                once(&mut b.user, Box::new(User::read(r, c, 64)?), "user", at)?
            }
            "user-roles" if ci && matches!(kind, K::ModifyUserRoles | K::ModifyEndpointRole) => {
                once(&mut b.roles, read_roles(r, "user-roles")?, "user-roles", at)?;
            }
            "media" if ci && kind == K::ModifyEndpointMedia => {
                once(&mut b.media, Box::new(Media::read(r, c)?), "media", at)?
            }
            "locked" if ci && kind == K::ModifyConferenceLock => {
                let t = r.text("locked")?;
                once(&mut b.locked, parse_bool(&t, "locked", at)?, "locked", at)?;
            }
            "userEntity" if cccp && kind == K::SetLobbyAccess => {
                if b.users.len() >= MAX_LIST {
                    return Err(Error::TooMany {
                        what: "userEntity elements",
                        limit: MAX_LIST,
                        offset: at,
                    });
                }
                b.users.push(r.text("userEntity")?);
            }
            "access" if cccp && kind == K::SetLobbyAccess => {
                let t = r.text("access")?;
                once(&mut b.access, LobbyAccess::from_shared(t), "access", at)?;
            }
            "mcu-types"
                if cccp
                    && matches!(
                        kind,
                        K::GetAvailableMcuTypes | K::GetConferencingCapabilities
                    ) =>
            {
                once(&mut b.mcu_types, read_mcu_types(r)?, "mcu-types", at)?;
            }
            "pstn-bridging" if cccp && kind == K::GetConferencingCapabilities => {
                once(&mut b.pstn, read_pstn(r, c)?, "pstn-bridging", at)?;
            }
            _ if cccp && keys_name.is_none() && local.ends_with("Keys") => {
                return Err(Error::UnexpectedElement {
                    name: local.to_string(),
                    context: "a command without keys",
                    offset: at,
                });
            }
            _ => ext.elements.push(r.capture(c)?),
        }
    }
    let body = match kind {
        Kind::AddConference => Body::AddConference { info: b.info },
        Kind::ModifyConference => Body::ModifyConference { info: b.info },
        Kind::DeleteConference => Body::DeleteConference {
            keys: b.keys,
            info: b.info,
        },
        Kind::GetConference => Body::GetConference {
            keys: b.keys,
            info: b.info,
        },
        Kind::GetConferences => Body::GetConferences { infos: b.infos },
        Kind::GetAvailableMcuTypes => Body::GetAvailableMcuTypes {
            mcu_types: b.mcu_types,
        },
        Kind::GetConferencingCapabilities => Body::GetConferencingCapabilities {
            mcu_types: b.mcu_types,
            pstn_bridging: b.pstn,
        },
        Kind::GetEncryptionKey => Body::GetEncryptionKey { keys: b.keys },
        Kind::AddUser => Body::AddUser {
            keys: b.keys,
            user: b.user,
        },
        Kind::DeleteUser => Body::DeleteUser { keys: b.keys },
        Kind::ModifyUserRoles => Body::ModifyUserRoles {
            keys: b.keys,
            roles: b.roles,
        },
        Kind::ModifyEndpointRole => Body::ModifyEndpointRole {
            keys: b.keys,
            roles: b.roles,
        },
        Kind::ModifyEndpointMedia => Body::ModifyEndpointMedia {
            keys: b.keys,
            media: b.media,
        },
        Kind::ModifyConferenceLock => Body::ModifyConferenceLock {
            keys: b.keys,
            locked: b.locked,
        },
        Kind::SetLobbyAccess => Body::SetLobbyAccess {
            keys: b.keys,
            users: b.users,
            access: b.access,
        },
    };
    Ok((Command { body, mcu_uri, ext }, reason))
}

fn read_keys<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<Keys, Error> {
    let mut k = Keys::default();
    r.attrs(&start, |r, a| {
        match (a.ns, a.local) {
            (Ns::None, "confEntity") => k.conf_entity = Some(r.share_cow(a.value)),
            (Ns::None, "userEntity") => k.user_entity = Some(r.share_cow(a.value)),
            (Ns::None, "endpointEntity") => k.endpoint_entity = Some(r.share_cow(a.value)),
            (Ns::None, "mediaId") => k.media_id = Some(r.share_cow(a.value)),
            (Ns::Msci | Ns::None, "conference-id") => k.conference_id = Some(r.share_cow(a.value)),
            _ => k.ext.attributes.push(r.keep_attr(&a)),
        }
        Ok(())
    })?;
    while let Some(c) = r.next("keys")? {
        let at = c.offset;
        if c.ns == Ns::Msci && c.local() == "encryption-key" {
            let mut e = EncryptionKey::default();
            r.attrs(&c, |r, a| {
                e.ext.attributes.push(r.keep_attr(&a));
                Ok(())
            })?;
            while let Some(x) = r.next("encryption-key")? {
                let xa = x.offset;
                match x.local() {
                    "x509-certificate" if x.ns == Ns::Msci => {
                        once(
                            &mut e.x509_certificate,
                            r.text("x509-certificate")?,
                            "x509-certificate",
                            xa,
                        )?;
                    }
                    "key" if x.ns == Ns::Msci => once(&mut e.key, r.text("key")?, "key", xa)?,
                    _ => e.ext.elements.push(r.capture(x)?),
                }
            }
            once(&mut k.encryption_key, e, "encryption-key", at)?;
        } else {
            k.ext.elements.push(r.capture(c)?);
        }
    }
    Ok(k)
}

fn read_mcu_types<'i>(r: &mut Reader<'i>) -> Result<Vec<McuType>, Error> {
    let mut v = Vec::new();
    while let Some(c) = r.next("mcu-types")? {
        if c.local() == "mcuType" {
            if v.len() >= 64 {
                return Err(Error::TooMany {
                    what: "mcuType elements",
                    limit: 64,
                    offset: c.offset,
                });
            }
            v.push(McuType::from_shared(r.text("mcuType")?));
        } else {
            r.capture(c)?;
        }
    }
    Ok(v)
}

fn read_pstn<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<PstnBridging, Error> {
    let mut p = PstnBridging::default();
    r.attrs(&start, |r, a| {
        p.ext.attributes.push(r.keep_attr(&a));
        Ok(())
    })?;
    while let Some(c) = r.next("pstn-bridging")? {
        if c.local() != "access-numbers" {
            p.ext.elements.push(r.capture(c)?);
            continue;
        }
        while let Some(a) = r.next("access-numbers")? {
            let at = a.offset;
            match a.local() {
                "region" => {
                    let mut region = Region::default();
                    r.attrs(&a, |r, x| {
                        if x.ns == Ns::None && x.local == "name" {
                            region.name = r.share_cow(x.value);
                        }
                        Ok(())
                    })?;
                    while let Some(n) = r.next("region")? {
                        if n.local() == "access-number" {
                            while let Some(num) = r.next("access-number")? {
                                if num.local() == "number" {
                                    region.numbers.push(r.text("number")?);
                                } else {
                                    r.capture(num)?;
                                }
                            }
                        } else {
                            r.capture(n)?;
                        }
                    }
                    p.regions.push(region);
                }
                "default-region" => once(
                    &mut p.default_region,
                    r.text("default-region")?,
                    "default-region",
                    at,
                )?,
                _ => {
                    r.capture(a)?;
                }
            }
        }
    }
    Ok(p)
}

fn write_keys<S: Sink>(w: &mut Writer<'_, S>, name: &str, k: &Keys) {
    w.open("", name);
    let ms = k.conference_id.is_some() || k.encryption_key.is_some();
    if ms {
        w.attr("xmlns:msci", crate::ns::MSCI);
    }
    w.opt_attr("confEntity", k.conf_entity.as_deref());
    w.opt_attr("userEntity", k.user_entity.as_deref());
    w.opt_attr("endpointEntity", k.endpoint_entity.as_deref());
    w.opt_attr("mediaId", k.media_id.as_deref());
    w.opt_attr("msci:conference-id", k.conference_id.as_deref());
    w.ext_attrs(&k.ext.attributes);
    if k.encryption_key.is_none() && k.ext.elements.is_empty() {
        w.slash_gt();
        return;
    }
    w.gt();
    if let Some(e) = &k.encryption_key {
        w.open("msci:", "encryption-key");
        w.ext_attrs(&e.ext.attributes);
        w.gt();
        w.opt_leaf("msci:", "x509-certificate", e.x509_certificate.as_deref());
        w.opt_leaf("msci:", "key", e.key.as_deref());
        w.ext_elements(&e.ext);
        w.close("msci:", "encryption-key");
    }
    w.ext_elements(&k.ext);
    w.close("", name);
}

fn write_command<S: Sink>(w: &mut Writer<'_, S>, c: &Command, reason: Option<&Reason>) {
    let body = &c.body;
    if let Body::Unknown(e) = body {
        match reason {
            Some(r) => {
                let mut e = e.clone();
                e.attributes.push(crate::xml::Attribute {
                    ns: None,
                    name: ByteString::from_static("reason"),
                    value: ByteString::from(r.as_str()),
                });
                w.element(&e, Some(crate::ns::CCCP));
            }
            None => w.element(e, Some(crate::ns::CCCP)),
        }
        return;
    }
    let name = body.name();
    w.open("", name);
    w.opt_attr("mscp:mcuUri", c.mcu_uri.as_deref());
    w.opt_attr("reason", reason.map(Reason::as_str));
    w.ext_attrs(&c.ext.attributes);
    // Children in schema order: keys, conference-info, user, roles, media, lock, lobby, MCU
    // types, dial-in numbers, then extensions.
    let keys_name = body.kind().and_then(Kind::keys_element);
    let has_children = !c.ext.elements.is_empty()
        || match body {
            Body::AddConference { info } | Body::ModifyConference { info } => info.is_some(),
            Body::DeleteConference { keys, info } | Body::GetConference { keys, info } => {
                keys.is_some() || info.is_some()
            }
            Body::GetConferences { infos } => !infos.is_empty(),
            Body::GetAvailableMcuTypes { mcu_types } => mcu_types.is_some(),
            Body::GetConferencingCapabilities {
                mcu_types,
                pstn_bridging,
            } => mcu_types.is_some() || pstn_bridging.is_some(),
            Body::GetEncryptionKey { keys } | Body::DeleteUser { keys } => keys.is_some(),
            Body::AddUser { keys, user } => keys.is_some() || user.is_some(),
            Body::ModifyUserRoles { keys, roles } | Body::ModifyEndpointRole { keys, roles } => {
                keys.is_some() || roles.is_some()
            }
            Body::ModifyEndpointMedia { keys, media } => keys.is_some() || media.is_some(),
            Body::ModifyConferenceLock { keys, locked } => keys.is_some() || locked.is_some(),
            Body::SetLobbyAccess {
                keys,
                users,
                access,
            } => keys.is_some() || !users.is_empty() || access.is_some(),
            Body::Unknown(_) => false,
        };
    if !has_children {
        w.slash_gt();
        return;
    }
    w.gt();
    if let (Some(k), Some(kn)) = (body.keys(), keys_name) {
        write_keys(w, kn, k);
    }
    match body {
        Body::AddConference { info }
        | Body::ModifyConference { info }
        | Body::DeleteConference { info, .. }
        | Body::GetConference { info, .. } => {
            if let Some(i) = info {
                i.write_to(w);
            }
        }
        Body::GetConferences { infos } => {
            for i in infos {
                i.write_to(w);
            }
        }
        Body::GetAvailableMcuTypes { mcu_types } => write_mcu_types(w, mcu_types.as_deref()),
        Body::GetConferencingCapabilities {
            mcu_types,
            pstn_bridging,
        } => {
            write_mcu_types(w, mcu_types.as_deref());
            if let Some(p) = pstn_bridging {
                write_pstn(w, p);
            }
        }
        Body::AddUser { user, .. } => {
            if let Some(u) = user {
                u.write(w, true);
            }
        }
        Body::ModifyUserRoles { roles, .. } | Body::ModifyEndpointRole { roles, .. } => {
            if let Some(r) = roles {
                write_user_roles(w, r);
            }
        }
        Body::ModifyEndpointMedia { media, .. } => {
            if let Some(m) = media {
                m.write(w, true);
            }
        }
        Body::ModifyConferenceLock { locked, .. } => w.opt_bool("", "locked", *locked),
        Body::SetLobbyAccess { users, access, .. } => {
            for u in users {
                w.leaf("", "userEntity", u);
            }
            w.opt_leaf("", "access", access.as_ref().map(LobbyAccess::as_str));
        }
        Body::GetEncryptionKey { .. } | Body::DeleteUser { .. } | Body::Unknown(_) => {}
    }
    w.ext_elements(&c.ext);
    w.close("", name);
}

fn write_mcu_types<S: Sink>(w: &mut Writer<'_, S>, types: Option<&[McuType]>) {
    if let Some(t) = types {
        w.open("", "mcu-types");
        if t.is_empty() {
            w.slash_gt();
            return;
        }
        w.gt();
        for m in t {
            w.leaf("", "mcuType", m.as_str());
        }
        w.close("", "mcu-types");
    }
}

fn write_pstn<S: Sink>(w: &mut Writer<'_, S>, p: &PstnBridging) {
    w.open("", "pstn-bridging");
    w.ext_attrs(&p.ext.attributes);
    w.gt();
    if !p.regions.is_empty() || p.default_region.is_some() {
        w.open("", "access-numbers");
        w.gt();
        for r in &p.regions {
            w.open("", "region");
            w.attr("name", &r.name);
            w.gt();
            for n in &r.numbers {
                w.open("", "access-number");
                w.gt();
                w.leaf("", "number", n);
                w.close("", "access-number");
            }
            w.close("", "region");
        }
        w.opt_leaf("", "default-region", p.default_region.as_deref());
        w.close("", "access-numbers");
    }
    w.ext_elements(&p.ext);
    w.close("", "pstn-bridging");
}
