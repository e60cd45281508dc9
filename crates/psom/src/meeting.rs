//! The shared meeting state (what every participant sees), roles and privileges, and their
//! marshaled snapshots.

use std::collections::BTreeMap;

use crate::interface::Interface;
use crate::value::Value;

/// A participant's role ([MS-CONFBAS] roles as granted in the addUser response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The organizer: everything, including roles.
    Organizer = 0,
    /// A presenter: slides, whiteboard, polls, answers, uploads.
    Presenter = 1,
    /// An attendee: view, vote, ask.
    Attendee = 2,
}

impl Role {
    /// From its code.
    #[must_use]
    pub fn from_code(c: u8) -> Option<Role> {
        [Role::Organizer, Role::Presenter, Role::Attendee]
            .into_iter()
            .find(|r| *r as u8 == c)
    }

    /// The privileges that come with the role.
    #[must_use]
    pub fn privileges(self) -> Privileges {
        match self {
            Role::Organizer => Privileges::ALL,
            Role::Presenter => Privileges(Privileges::ALL.0 & !Privileges::MANAGE_ROLES.0),
            Role::Attendee => {
                Privileges(Privileges::VIEW.0 | Privileges::VOTE.0 | Privileges::ASK.0)
            }
        }
    }
}

/// What a participant may do: a bit set (values **our choice**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Privileges(pub u32);

impl Privileges {
    /// Nothing beyond being joined.
    pub const NONE: Privileges = Privileges(0);
    /// See the meeting.
    pub const VIEW: Privileges = Privileges(1);
    /// Draw on the whiteboard.
    pub const ANNOTATE: Privileges = Privileges(2);
    /// Load and move slides, clear the whiteboard.
    pub const PRESENT: Privileges = Privileges(4);
    /// Open and close polls.
    pub const MANAGE_POLL: Privileges = Privileges(8);
    /// Answer questions.
    pub const ANSWER: Privileges = Privileges(16);
    /// Upload content.
    pub const UPLOAD: Privileges = Privileges(32);
    /// Change roles and grant privileges.
    pub const MANAGE_ROLES: Privileges = Privileges(64);
    /// Vote in polls.
    pub const VOTE: Privileges = Privileges(128);
    /// Ask questions.
    pub const ASK: Privileges = Privileges(256);
    /// Everything.
    pub const ALL: Privileges = Privileges(511);

    /// Whether every bit of `other` is held.
    #[must_use]
    pub fn contains(self, other: Privileges) -> bool {
        self.0 & other.0 == other.0
    }
}

/// A participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// Role.
    pub role: Role,
    /// Privileges (the role's, plus grants).
    pub privileges: Privileges,
    /// Whether a connection of theirs is joined.
    pub connected: bool,
}

/// The slide deck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deck {
    /// Which deck (its content id).
    pub id: String,
    /// How many slides.
    pub slides: u32,
    /// The slide shown (0-based).
    pub current: u32,
}

/// A whiteboard annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Who drew it.
    pub author: String,
    /// The shape, as the clients encode it (opaque to the server).
    pub shape: String,
}

/// A poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollState {
    /// The question.
    pub question: String,
    /// The choices.
    pub choices: Vec<String>,
    /// Votes per choice.
    pub counts: Vec<u32>,
    /// Whether votes are taken.
    pub open: bool,
}

/// A question and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Who asked.
    pub author: String,
    /// The question.
    pub text: String,
    /// The answer, once given.
    pub answer: Option<String>,
}

/// Uploaded content, downloadable over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Where to download it.
    pub url: String,
    /// The key that authorizes the download.
    pub key: Vec<u8>,
}

/// Everything participants share.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeetingState {
    /// Participants by user (SIP URI).
    pub roster: BTreeMap<String, Participant>,
    /// The deck, once loaded.
    pub deck: Option<Deck>,
    /// Annotations by id.
    pub whiteboard: BTreeMap<u32, Annotation>,
    /// The poll, once opened.
    pub poll: Option<PollState>,
    /// Questions by id.
    pub questions: BTreeMap<u32, Question>,
    /// Uploaded content.
    pub content: Vec<Content>,
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

fn u32_of(v: &Value) -> Option<u32> {
    match v {
        Value::U32(n) => Some(*n),
        _ => None,
    }
}

fn fields<const N: usize>(v: &Value) -> Option<&[Value; N]> {
    match v {
        Value::Struct(f) => f.as_slice().try_into().ok(),
        _ => None,
    }
}

/// A whiteboard annotation as marshaled: (id, author, shape).
#[must_use]
pub fn annotation_value(id: u32, a: &Annotation) -> Value {
    Value::Struct(vec![Value::U32(id), s(&a.author), s(&a.shape)])
}

/// The inverse of [`annotation_value`].
#[must_use]
pub fn annotation_of(v: &Value) -> Option<(u32, Annotation)> {
    let [id, author, shape] = fields::<3>(v)?;
    Some((
        u32_of(id)?,
        Annotation {
            author: text(author)?,
            shape: text(shape)?,
        },
    ))
}

impl MeetingState {
    /// The marshaled state of one object (the SNAPSHOT notification's argument).
    #[must_use]
    pub fn snapshot(&self, iface: Interface) -> Value {
        match iface {
            Interface::Roster => Value::Array(
                self.roster
                    .iter()
                    .map(|(user, p)| {
                        Value::Struct(vec![
                            s(user),
                            Value::U8(p.role as u8),
                            Value::U32(p.privileges.0),
                            Value::Bool(p.connected),
                        ])
                    })
                    .collect(),
            ),
            Interface::SlideDeck => match &self.deck {
                None => Value::Null,
                Some(d) => {
                    Value::Struct(vec![s(&d.id), Value::U32(d.slides), Value::U32(d.current)])
                }
            },
            Interface::Whiteboard => Value::Array(
                self.whiteboard
                    .iter()
                    .map(|(id, a)| annotation_value(*id, a))
                    .collect(),
            ),
            Interface::Poll => match &self.poll {
                None => Value::Null,
                Some(p) => Value::Struct(vec![
                    s(&p.question),
                    Value::Array(p.choices.iter().map(|c| s(c)).collect()),
                    Value::Array(p.counts.iter().map(|c| Value::U32(*c)).collect()),
                    Value::Bool(p.open),
                ]),
            },
            Interface::QandA => Value::Array(
                self.questions
                    .iter()
                    .map(|(id, q)| {
                        Value::Struct(vec![
                            Value::U32(*id),
                            s(&q.author),
                            s(&q.text),
                            q.answer.as_deref().map_or(Value::Null, s),
                        ])
                    })
                    .collect(),
            ),
            Interface::Upload => Value::Array(
                self.content
                    .iter()
                    .map(|c| {
                        Value::Struct(vec![
                            s(&c.name),
                            Value::U64(c.size),
                            s(&c.url),
                            Value::Blob(c.key.clone()),
                        ])
                    })
                    .collect(),
            ),
            Interface::ConnMgr | Interface::Meeting => Value::Null,
        }
    }

    /// Replaces one object's state from its snapshot. `None` if the value does not have the
    /// snapshot's shape (nothing is changed then).
    pub fn apply_snapshot(&mut self, iface: Interface, v: &Value) -> Option<()> {
        match iface {
            Interface::Roster => {
                let mut roster = BTreeMap::new();
                for item in v.items()? {
                    let [user, role, privileges, connected] = fields::<4>(item)?;
                    let role = match role {
                        Value::U8(r) => Role::from_code(*r)?,
                        _ => return None,
                    };
                    let connected = matches!(connected, Value::Bool(true));
                    roster.insert(
                        text(user)?,
                        Participant {
                            role,
                            privileges: Privileges(u32_of(privileges)?),
                            connected,
                        },
                    );
                }
                self.roster = roster;
            }
            Interface::SlideDeck => {
                self.deck = match v {
                    Value::Null => None,
                    v => {
                        let [id, slides, current] = fields::<3>(v)?;
                        Some(Deck {
                            id: text(id)?,
                            slides: u32_of(slides)?,
                            current: u32_of(current)?,
                        })
                    }
                }
            }
            Interface::Whiteboard => {
                let mut wb = BTreeMap::new();
                for item in v.items()? {
                    let (id, a) = annotation_of(item)?;
                    wb.insert(id, a);
                }
                self.whiteboard = wb;
            }
            Interface::Poll => {
                self.poll = match v {
                    Value::Null => None,
                    v => {
                        let [q, choices, counts, open] = fields::<4>(v)?;
                        Some(PollState {
                            question: text(q)?,
                            choices: choices.items()?.iter().map(text).collect::<Option<_>>()?,
                            counts: counts.items()?.iter().map(u32_of).collect::<Option<_>>()?,
                            open: matches!(open, Value::Bool(true)),
                        })
                    }
                }
            }
            Interface::QandA => {
                let mut qs = BTreeMap::new();
                for item in v.items()? {
                    let [id, author, q, answer] = fields::<4>(item)?;
                    qs.insert(
                        u32_of(id)?,
                        Question {
                            author: text(author)?,
                            text: text(q)?,
                            answer: text(answer),
                        },
                    );
                }
                self.questions = qs;
            }
            Interface::Upload => {
                let mut content = Vec::new();
                for item in v.items()? {
                    let [name, size, url, key] = fields::<4>(item)?;
                    content.push(Content {
                        name: text(name)?,
                        size: size.as_u64()?,
                        url: text(url)?,
                        key: key.as_blob()?.to_vec(),
                    });
                }
                self.content = content;
            }
            Interface::ConnMgr | Interface::Meeting => return None,
        }
        Some(())
    }
}
