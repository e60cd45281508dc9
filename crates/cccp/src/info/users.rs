//! `users` and `user` (RFC 4575 §5.6) with their roles ([MS-CONFBAS] 2.2.3.4, RFC 4575
//! `roles`), and the `user-roles` body of `modifyUserRoles`.

use bytestring::ByteString;

use crate::error::Error;
use crate::xml::{Extensions, Ns, Reader, Sink, Start, Writer};

use super::{
    CI, ClientInfo, Endpoint, State, Uris, body, declare, keep, leaf, leaf_token, read_state, set,
    write_state,
};

token_enum! {
    /// A user's role in a conference ([MS-CONFBAS] 2.2.3.4, RFC 4575 `roles`).
    Role {
        /// The organizer.
        Organizer => "organizer",
        /// A presenter (a "leader" in Office Communicator).
        Presenter => "presenter",
        /// An attendee.
        Attendee => "attendee",
    }
}

impl Role {
    /// Whether this role may control the conference (lock, promote, admit, remove others).
    #[must_use]
    pub fn is_leader(&self) -> bool {
        matches!(self, Role::Organizer | Role::Presenter)
    }
}

/// `users` (RFC 4575 §5.6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Users {
    /// `state`.
    pub state: State,
    /// The users.
    pub users: Vec<User>,
    /// Extension content.
    pub ext: Extensions,
}

/// A user (RFC 4575 §5.6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct User {
    /// `entity` (the key: the user's URI).
    pub entity: ByteString,
    /// `state`.
    pub state: State,
    /// `display-text`.
    pub display_text: Option<ByteString>,
    /// `associated-aors`.
    pub associated_aors: Option<Uris>,
    /// `roles` / `entry`.
    pub roles: Option<Vec<Role>>,
    /// `languages`.
    pub languages: Option<ByteString>,
    /// `cascaded-focus`.
    pub cascaded_focus: Option<ByteString>,
    /// `endpoint`s.
    pub endpoints: Vec<Endpoint>,
    /// `msci:clientInfo` directly in the user, as the [MS-CONFBAS] 2.2.3.4 `addUser` response
    /// shows it (requests put it in the endpoint).
    pub client_info: Option<ClientInfo>,
    /// Extension content.
    pub ext: Extensions,
}

impl User {
    /// A new user with one role.
    #[must_use]
    pub fn new(entity: impl Into<ByteString>, role: Role) -> User {
        User {
            entity: entity.into(),
            roles: Some(vec![role]),
            ..User::default()
        }
    }

    /// The endpoint with this entity.
    #[must_use]
    pub fn endpoint(&self, entity: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.entity == entity)
    }

    /// The endpoint with this entity, to change it.
    pub fn endpoint_mut(&mut self, entity: &str) -> Option<&mut Endpoint> {
        self.endpoints.iter_mut().find(|e| e.entity == entity)
    }

    /// The first role.
    #[must_use]
    pub fn role(&self) -> Option<&Role> {
        self.roles.as_ref()?.first()
    }
}

/// The most endpoints per user and media per endpoint a document may list.
const MAX_PER_PARENT: usize = 64;

impl Users {
    pub(super) fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<Users, Error> {
        let mut u = Users::default();
        r.attrs(&start, |r, a| {
            match (a.ns, a.local) {
                (Ns::None, "state") => u.state = read_state(&a.value, start.offset)?,
                _ => u.ext.attributes.push(r.keep_attr(&a)),
            }
            Ok(())
        })?;
        while let Some(c) = r.next("users")? {
            if c.is_ci("user") {
                u.users.push(User::read(r, c, MAX_PER_PARENT)?);
            } else {
                keep(r, c, &mut u.ext)?;
            }
        }
        Ok(u)
    }

    pub(super) fn write<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.open(CI, "users");
        write_state(w, "state", &self.state);
        w.ext_attrs(&self.ext.attributes);
        body(
            w,
            CI,
            "users",
            self.users.is_empty() && self.ext.elements.is_empty(),
            |w| {
                for user in &self.users {
                    user.write(w, false);
                }
                w.ext_elements(&self.ext);
            },
        );
    }
}

impl User {
    pub(crate) fn read<'i>(
        r: &mut Reader<'i>,
        start: Start<'i>,
        limit: usize,
    ) -> Result<User, Error> {
        let mut u = User::default();
        r.attrs(&start, |r, a| {
            match (a.ns, a.local) {
                (Ns::None, "entity") => u.entity = r.share_cow(a.value),
                (Ns::None, "state") => u.state = read_state(&a.value, start.offset)?,
                _ => u.ext.attributes.push(r.keep_attr(&a)),
            }
            Ok(())
        })?;
        while let Some(c) = r.next("user")? {
            let at = c.offset;
            let ci = c.ns.is_ci();
            match c.local() {
                "display-text" if ci => set(
                    &mut u.display_text,
                    leaf(r, "display-text")?,
                    "display-text",
                    at,
                )?,
                "associated-aors" if ci => set(
                    &mut u.associated_aors,
                    Uris::read(r, c, "associated-aors")?,
                    "associated-aors",
                    at,
                )?,
                "roles" if ci => set(&mut u.roles, read_roles(r, "roles")?, "roles", at)?,
                "languages" if ci => set(&mut u.languages, leaf(r, "languages")?, "languages", at)?,
                "cascaded-focus" if ci => {
                    set(
                        &mut u.cascaded_focus,
                        leaf(r, "cascaded-focus")?,
                        "cascaded-focus",
                        at,
                    )?;
                }
                "endpoint" if ci => {
                    if u.endpoints.len() >= limit {
                        return Err(Error::TooMany {
                            what: "endpoints per user",
                            limit,
                            offset: at,
                        });
                    }
                    u.endpoints.reserve_exact(1);
                    u.endpoints.push(Endpoint::read(r, c, limit)?);
                }
                "clientInfo" if c.ns == Ns::Msci || c.ns == Ns::Msci2 => {
                    set(
                        &mut u.client_info,
                        ClientInfo::read(r, c)?,
                        "clientInfo",
                        at,
                    )?;
                }
                _ => keep(r, c, &mut u.ext)?,
            }
        }
        Ok(u)
    }

    /// Writes `ci:user`; `decl` declares the namespaces (in `addUser`, where it is a fragment).
    pub(crate) fn write<S: Sink>(&self, w: &mut Writer<'_, S>, decl: bool) {
        w.open(CI, "user");
        if decl {
            declare(w);
        }
        w.attr("entity", &self.entity);
        write_state(w, "state", &self.state);
        w.ext_attrs(&self.ext.attributes);
        w.gt();
        w.opt_leaf(CI, "display-text", self.display_text.as_deref());
        if let Some(u) = &self.associated_aors {
            u.write(w, "associated-aors");
        }
        if let Some(r) = &self.roles {
            write_roles(w, CI, "roles", r);
        }
        w.opt_leaf(CI, "languages", self.languages.as_deref());
        w.opt_leaf(CI, "cascaded-focus", self.cascaded_focus.as_deref());
        for e in &self.endpoints {
            e.write(w);
        }
        if let Some(ci) = &self.client_info {
            ci.write(w);
        }
        w.ext_elements(&self.ext);
        w.close(CI, "user");
    }
}

/// Reads `roles` / `user-roles` / `msci:roles`: a list of `entry`.
pub(crate) fn read_roles<'i>(r: &mut Reader<'i>, what: &'static str) -> Result<Vec<Role>, Error> {
    let mut v = Vec::new();
    while let Some(c) = r.next(what)? {
        if c.ns.is_ms() && c.local() == "entry" {
            v.push(leaf_token(r, "entry", Role::from_shared)?);
        } else {
            r.capture(c)?;
        }
    }
    Ok(v)
}

pub(super) fn write_roles<S: Sink>(
    w: &mut Writer<'_, S>,
    prefix: &str,
    name: &str,
    roles: &[Role],
) {
    w.open(prefix, name);
    body(w, prefix, name, roles.is_empty(), |w| {
        for role in roles {
            w.leaf(prefix, "entry", role.as_str());
        }
    });
}

/// Writes roles as `ci:user-roles` (the body of `modifyUserRoles`).
pub(crate) fn write_user_roles<S: Sink>(w: &mut Writer<'_, S>, roles: &[Role]) {
    w.open(CI, "user-roles");
    w.attr("xmlns:ci", crate::ns::CI);
    body(w, CI, "user-roles", roles.is_empty(), |w| {
        for r in roles {
            w.leaf(CI, "entry", r.as_str());
        }
    });
}
