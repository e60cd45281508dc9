//! The strongly typed interfaces of the web-conference session: each declared once, as a
//! method table (ordinal, name, parameter types, privilege needed). Interface identifiers,
//! ordinals and signatures are **our choice**: the public record names only ConnMgr and
//! Meeting.

use crate::meeting::Privileges;
use crate::value::Type;

/// A distributed object's interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interface {
    /// 1: the connection manager, on channel 0, connected by RPCOpen.
    ConnMgr = 1,
    /// 2: the meeting, the root object, connected implicitly on authentication.
    Meeting = 2,
    /// 3: participants and their roles.
    Roster = 3,
    /// 4: the slide deck and its current slide.
    SlideDeck = 4,
    /// 5: whiteboard annotations.
    Whiteboard = 5,
    /// 6: the poll.
    Poll = 6,
    /// 7: questions and answers.
    QandA = 7,
    /// 8: content upload.
    Upload = 8,
}

/// The children a client connects under the Meeting.
pub const CHILDREN: [Interface; 6] = [
    Interface::Roster,
    Interface::SlideDeck,
    Interface::Whiteboard,
    Interface::Poll,
    Interface::QandA,
    Interface::Upload,
];

/// One method of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// The ordinal on the wire.
    pub ordinal: u16,
    /// The name, for people.
    pub name: &'static str,
    /// Parameter types, in order.
    pub args: &'static [Type],
    /// What the caller must hold (empty: any joined participant).
    pub privilege: Privileges,
}

const fn m(
    ordinal: u16,
    name: &'static str,
    args: &'static [Type],
    privilege: Privileges,
) -> Method {
    Method {
        ordinal,
        name,
        args,
        privilege,
    }
}

/// Method ordinals, by interface. 100 and up are notifications the server sends.
pub mod ordinal {
    /// ConnMgr.Authenticate(conference id, auth id, key, display name).
    pub const AUTHENTICATE: u16 = 1;
    /// Meeting.GetInfo() → (conference id, title).
    pub const GET_INFO: u16 = 1;
    /// Roster.SetRole(user, role).
    pub const SET_ROLE: u16 = 1;
    /// Roster.Grant(user, privileges).
    pub const GRANT: u16 = 2;
    /// SlideDeck.Load(deck id, slide count).
    pub const LOAD: u16 = 1;
    /// SlideDeck.GoTo(slide).
    pub const GO_TO: u16 = 2;
    /// Whiteboard.Draw(shape) → annotation id.
    pub const DRAW: u16 = 1;
    /// Whiteboard.Erase(annotation id).
    pub const ERASE: u16 = 2;
    /// Whiteboard.Clear().
    pub const CLEAR: u16 = 3;
    /// Poll.Open(question, choices).
    pub const OPEN_POLL: u16 = 1;
    /// Poll.Vote(choice).
    pub const VOTE: u16 = 2;
    /// Poll.Close().
    pub const CLOSE_POLL: u16 = 3;
    /// QandA.Ask(text) → question id.
    pub const ASK: u16 = 1;
    /// QandA.Answer(question id, text).
    pub const ANSWER: u16 = 2;
    /// Upload.Begin(name, size, SHA-1) → upload id.
    pub const BEGIN: u16 = 1;
    /// Upload.Chunk(upload id, offset, bytes).
    pub const CHUNK: u16 = 2;
    /// Upload.Finish(upload id) → (URL, key).
    pub const FINISH: u16 = 3;
    /// Notification: the object's whole state.
    pub const SNAPSHOT: u16 = 100;
    /// Notification: Whiteboard annotation added (id, author, shape).
    pub const ADDED: u16 = 101;
    /// Notification: Whiteboard annotation removed (id).
    pub const REMOVED: u16 = 102;
}

use ordinal as o;

const STRINGS: Type = Type::String;

static CONN_MGR: &[Method] = &[m(
    o::AUTHENTICATE,
    "Authenticate",
    &[Type::String, Type::String, Type::Blob, Type::String],
    Privileges::NONE,
)];
static MEETING: &[Method] = &[m(o::GET_INFO, "GetInfo", &[], Privileges::NONE)];
static ROSTER: &[Method] = &[
    m(
        o::SET_ROLE,
        "SetRole",
        &[Type::String, Type::U8],
        Privileges::MANAGE_ROLES,
    ),
    m(
        o::GRANT,
        "Grant",
        &[Type::String, Type::U32],
        Privileges::MANAGE_ROLES,
    ),
];
static SLIDE_DECK: &[Method] = &[
    m(
        o::LOAD,
        "Load",
        &[Type::String, Type::U32],
        Privileges::PRESENT,
    ),
    m(o::GO_TO, "GoTo", &[Type::U32], Privileges::PRESENT),
];
static WHITEBOARD: &[Method] = &[
    m(o::DRAW, "Draw", &[Type::String], Privileges::ANNOTATE),
    m(o::ERASE, "Erase", &[Type::U32], Privileges::ANNOTATE),
    m(o::CLEAR, "Clear", &[], Privileges::PRESENT),
];
static POLL: &[Method] = &[
    m(
        o::OPEN_POLL,
        "Open",
        &[Type::String, Type::Array(&STRINGS)],
        Privileges::MANAGE_POLL,
    ),
    m(o::VOTE, "Vote", &[Type::U8], Privileges::VOTE),
    m(o::CLOSE_POLL, "Close", &[], Privileges::MANAGE_POLL),
];
static QANDA: &[Method] = &[
    m(o::ASK, "Ask", &[Type::String], Privileges::ASK),
    m(
        o::ANSWER,
        "Answer",
        &[Type::U32, Type::String],
        Privileges::ANSWER,
    ),
];
static UPLOAD: &[Method] = &[
    m(
        o::BEGIN,
        "Begin",
        &[Type::String, Type::U64, Type::Blob],
        Privileges::UPLOAD,
    ),
    m(
        o::CHUNK,
        "Chunk",
        &[Type::U32, Type::U64, Type::Blob],
        Privileges::UPLOAD,
    ),
    m(o::FINISH, "Finish", &[Type::U32], Privileges::UPLOAD),
];

impl Interface {
    /// The interface of an identifier.
    #[must_use]
    pub fn from_id(id: u16) -> Option<Interface> {
        use Interface::*;
        [
            ConnMgr, Meeting, Roster, SlideDeck, Whiteboard, Poll, QandA, Upload,
        ]
        .into_iter()
        .find(|i| *i as u16 == id)
    }

    /// The method table.
    #[must_use]
    pub fn methods(self) -> &'static [Method] {
        match self {
            Interface::ConnMgr => CONN_MGR,
            Interface::Meeting => MEETING,
            Interface::Roster => ROSTER,
            Interface::SlideDeck => SLIDE_DECK,
            Interface::Whiteboard => WHITEBOARD,
            Interface::Poll => POLL,
            Interface::QandA => QANDA,
            Interface::Upload => UPLOAD,
        }
    }

    /// A method by ordinal.
    #[must_use]
    pub fn method(self, ordinal: u16) -> Option<&'static Method> {
        self.methods().iter().find(|m| m.ordinal == ordinal)
    }
}
