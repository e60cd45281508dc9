//! Conference-info subscriptions ([MS-CONFBAS] 3.2; RFC 4575 §4.6): the full state on
//! subscribing, then one partial delta per change with versions increasing by one (each user
//! who changed sent whole).

use crate::info::{State, User};
use crate::uri::ConferenceUri;

use super::{Conference, Focus, Key, Output, SubscribeError, Subscriber};

impl Focus {
    /// Subscribes `subscriber` (the caller's id for the SIP subscription) of user `user` to a
    /// conference's state. The full state follows as [`Output::Notify`]; subscribing again
    /// with the same id refreshes it (another full state, the version going on).
    ///
    /// # Errors
    /// The conference does not exist, `user` is not its organizer nor one of its users, or the
    /// conference has too many subscribers.
    pub fn subscribe(
        &mut self,
        subscriber: u64,
        focus_uri: &str,
        user: &str,
    ) -> Result<(), SubscribeError> {
        let key = ConferenceUri::parse(focus_uri)
            .map_err(|_| SubscribeError::NoSuchConference)?
            .to_focus()
            .key();
        let max = self.config.max_subscribers;
        let c = self
            .conferences
            .get_mut(&key)
            .ok_or(SubscribeError::NoSuchConference)?;
        if !Self::is_member(c, user) {
            return Err(SubscribeError::NotAMember);
        }
        let version = match c.subscribers.iter_mut().find(|s| s.id == subscriber) {
            Some(s) => {
                s.version = s.version.wrapping_add(1);
                s.version
            }
            None => {
                if c.subscribers.len() >= max {
                    return Err(SubscribeError::TooMany);
                }
                c.subscribers.push(Subscriber {
                    id: subscriber,
                    version: 1,
                });
                1
            }
        };
        let mut doc = c.info.clone();
        doc.state = State::Full;
        doc.version = Some(version);
        self.outputs.push_back(Output::Notify {
            subscriber,
            document: doc,
            terminated: false,
        });
        Ok(())
    }

    /// Ends a subscription.
    pub fn unsubscribe(&mut self, subscriber: u64) {
        for c in self.conferences.values_mut() {
            c.subscribers.retain(|s| s.id != subscriber);
        }
    }

    /// Applies a change to a conference and notifies every subscriber of the delta.
    pub(super) fn change(&mut self, key: &Key, f: impl FnOnce(&mut Conference)) {
        let Some(c) = self.conferences.get_mut(key) else {
            return;
        };
        let before = c.info.clone();
        f(c);
        let Some(mut delta) = crate::state::delta(&before, &c.info) else {
            return;
        };
        // A user who changed is sent whole (`state="full"`, every endpoint and role), as the
        // OCS focus does: clients such as Office Communicator and pidgin-sipe rebuild a user's
        // roster entry from each notification that names him — one with a partial user
        // (an endpoint alone, no roles) would take a leader for an attendee, and a user whose
        // chat endpoint is not listed out of the chat.
        if delta.state == State::Partial
            && let Some(users) = delta.users.as_mut()
        {
            for u in &mut users.users {
                if u.state == State::Partial
                    && let Some(whole) = c.info.user(&u.entity)
                {
                    *u = User {
                        state: State::Full,
                        ..whole.clone()
                    };
                }
            }
        }
        for s in &mut c.subscribers {
            s.version = s.version.wrapping_add(1);
            let mut doc = delta.clone();
            doc.version = Some(s.version);
            self.outputs.push_back(Output::Notify {
                subscriber: s.id,
                document: doc,
                terminated: false,
            });
        }
    }
}
