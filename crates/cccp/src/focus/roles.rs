//! Roles ([MS-CONFBAS] 2.2.3.4, RFC 4575 `roles`): `modifyUserRoles` and `modifyEndpointRole`,
//! recorded in the conference state and passed to the MCUs the user is connected to.

use crate::info::Role;
use crate::message::{Body, Code, Keys, Reason, Request, Response};

use super::mcu::Pending;
use super::{Diagnostic, Fail, Focus, Origin};

impl Focus {
    fn valid_roles(roles: Option<&Vec<Role>>) -> Result<Vec<Role>, Fail> {
        let roles = roles
            .filter(|r| !r.is_empty())
            .ok_or(Fail(Reason::InvalidRole, Some(Diagnostic::INVALID_ROLE)))?;
        if roles
            .iter()
            .any(|r| !matches!(r, Role::Presenter | Role::Attendee))
        {
            return Err(Fail(Reason::InvalidRole, Some(Diagnostic::INVALID_ROLE)));
        }
        Ok(roles.clone())
    }

    pub(super) fn modify_user_roles(
        &mut self,
        origin: &Origin,
        req: &Request,
        keys: Option<&Keys>,
        roles: Option<&Vec<Role>>,
    ) -> Result<Response, Fail> {
        let key = self.led(origin, req)?;
        let c = self.conf(&key);
        let roles = Self::valid_roles(roles)?;
        let target = keys
            .and_then(|k| k.user_entity.clone())
            .ok_or(Fail(Reason::InvalidUserEntity, None))?;
        let Some(user) = c.info.user(&target).cloned() else {
            return Err(Fail(Reason::InvalidUserEntity, None));
        };
        if Self::is_organizer(c, &user.entity) && !roles.contains(&Role::Presenter) {
            return Err(Fail(Reason::InvalidRole, Some(Diagnostic::INVALID_ROLE)));
        }
        let focus = c.focus.clone();
        for (t, u) in c.mcus.clone() {
            if user
                .endpoints
                .iter()
                .any(|e| e.session_type.as_deref() == Some(t.as_str()))
            {
                let body = Body::ModifyUserRoles {
                    keys: Some(Keys::user(u.clone(), user.entity.clone())),
                    roles: Some(roles.clone()),
                };
                self.mcu_request(t, u, &focus, body, Pending::Quiet);
            }
        }
        self.change(&key, |c| {
            if let Some(u) = c.info.user_mut(&user.entity) {
                u.roles = Some(roles.clone());
            }
        });
        Ok(req.respond(Code::Success, req.command.body.echo()))
    }

    pub(super) fn modify_endpoint_role(
        &mut self,
        origin: &Origin,
        req: &Request,
        keys: Option<&Keys>,
        roles: Option<&Vec<Role>>,
    ) -> Result<Response, Fail> {
        let key = self.led(origin, req)?;
        let c = self.conf(&key);
        let roles = Self::valid_roles(roles)?;
        let k = keys.cloned().unwrap_or_default();
        let (Some(user), Some(ep)) = (k.user_entity.clone(), k.endpoint_entity.clone()) else {
            return Err(Fail(Reason::EndpointDoesNotExist, None));
        };
        let Some(endpoint) = c.info.user(&user).and_then(|u| u.endpoint(&ep)).cloned() else {
            return Err(Fail(Reason::EndpointDoesNotExist, None));
        };
        let focus = c.focus.clone();
        if let Some((t, u)) = c
            .mcus
            .iter()
            .find(|(t, _)| endpoint.session_type.as_deref() == Some(t.as_str()))
            .cloned()
        {
            let mut fk = k.clone();
            fk.conf_entity = Some(u.clone());
            self.mcu_request(
                t,
                u,
                &focus,
                Body::ModifyEndpointRole {
                    keys: Some(fk),
                    roles: Some(roles.clone()),
                },
                Pending::Quiet,
            );
        }
        self.change(&key, |c| {
            if let Some(e) = c.info.user_mut(&user).and_then(|u| u.endpoint_mut(&ep)) {
                e.roles = Some(roles.clone());
            }
        });
        Ok(req.respond(Code::Success, req.command.body.echo()))
    }
}
