//! A focus on virtual time: Alice creates a conference, Bob joins and subscribes, Alice locks
//! it, Carol waits in the lobby until Alice admits her. Prints each C3P document exchanged and
//! each conference-info notification Bob receives, and Bob's tracked roster at the end.
//!
//! `cargo run --example focus`

use ocs_stack::cccp::focus::{Carriage, Focus, FocusConfig, Origin, Output};
use ocs_stack::cccp::info::{ConferenceDescription, ConferenceInfo};
use ocs_stack::cccp::message::{Body, Code, Keys, LobbyAccess, Request};
use ocs_stack::cccp::state::Tracker;
use ocs_stack::cccp::time::Timestamp;

const FACTORY: &str = "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory";
const FOCUS: &str = "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:DEMO0001";

fn show(label: &str, bytes: &[u8]) {
    println!("{label}\n  {}\n", String::from_utf8_lossy(bytes));
}

fn join(who: &str, endpoint: &str) -> Body {
    Body::join(FOCUS, who, endpoint)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let now = Timestamp(1_700_000_000);
    let mut focus = Focus::new(
        FocusConfig::default(),
        <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(2007),
    );
    let mut bob = Tracker::new();
    let mut token = 0;
    let mut send = |focus: &mut Focus, who: &str, to: &str, carriage, body: Body| {
        token += 1;
        let req = Request::new(token, who, to, body);
        show(&format!("--> {who} ({carriage:?})"), &req.to_bytes());
        let origin = Origin {
            sender: who.into(),
            target: to.into(),
            carriage,
        };
        focus.handle_request(now, token, &origin, req);
    };
    let drain = |focus: &mut Focus, bob: &mut Tracker| -> Result<(), Box<dyn std::error::Error>> {
        while let Some(o) = focus.poll_output() {
            match o {
                Output::Response {
                    response,
                    diagnostic,
                    ..
                } => {
                    let label = format!(
                        "<-- {:?} to {}{}",
                        response.code,
                        response.to,
                        diagnostic
                            .map(|d| format!(" (ms-diagnostics {})", d.code))
                            .unwrap_or_default()
                    );
                    show(&label, &response.to_bytes());
                }
                Output::McuRequest {
                    id, mcu, request, ..
                } => {
                    println!("==> MCU {mcu} #{id}: {}\n", request.command.body.name());
                    let ok = request.respond(Code::Success, request.command.body.echo());
                    focus.handle_mcu_response(now, id, &ok);
                }
                Output::Schedule { focus, conference } => match conference {
                    Some(_) => println!("==> store: keep {focus}\n"),
                    None => println!("==> store: forget {focus}\n"),
                },
                Output::Notify { document, .. } => {
                    show(
                        &format!(
                            "NOTIFY Bob, version {:?}, {}",
                            document.version, document.state
                        ),
                        &document.to_bytes(),
                    );
                    bob.apply(&document)?;
                }
            }
        }
        Ok(())
    };

    let info = ConferenceInfo {
        description: Some(ConferenceDescription {
            subject: Some("Design review".into()),
            conference_id: Some("DEMO0001".into()),
            ..ConferenceDescription::default()
        }),
        ..ConferenceInfo::default()
    };
    send(
        &mut focus,
        "sip:alice@contoso.com",
        FACTORY,
        Carriage::Service,
        Body::AddConference {
            info: Some(Box::new(info)),
        },
    );
    drain(&mut focus, &mut bob)?;
    send(
        &mut focus,
        "sip:alice@contoso.com",
        FOCUS,
        Carriage::Invite,
        join("sip:alice@contoso.com", "{A1}"),
    );
    send(
        &mut focus,
        "sip:bob@contoso.com",
        FOCUS,
        Carriage::Invite,
        join("sip:bob@contoso.com", "{B1}"),
    );
    drain(&mut focus, &mut bob)?;
    focus.subscribe(1, FOCUS, "sip:bob@contoso.com")?;
    drain(&mut focus, &mut bob)?;
    send(
        &mut focus,
        "sip:alice@contoso.com",
        FOCUS,
        Carriage::Info,
        Body::ModifyConferenceLock {
            keys: Some(Keys::conference(FOCUS)),
            locked: Some(true),
        },
    );
    drain(&mut focus, &mut bob)?;
    send(
        &mut focus,
        "sip:carol@contoso.com",
        FOCUS,
        Carriage::Invite,
        join("sip:carol@contoso.com", "{C1}"),
    );
    drain(&mut focus, &mut bob)?;
    send(
        &mut focus,
        "sip:alice@contoso.com",
        FOCUS,
        Carriage::Info,
        Body::SetLobbyAccess {
            keys: Some(Keys::conference(FOCUS)),
            users: vec!["sip:carol@contoso.com".into()],
            access: Some(LobbyAccess::Granted),
        },
    );
    drain(&mut focus, &mut bob)?;

    let state = bob.state().ok_or("no state")?;
    println!("Bob's view: locked={}, users:", state.locked());
    for u in state.user_list() {
        let status = u
            .endpoints
            .first()
            .and_then(|e| e.status.as_ref())
            .map(ToString::to_string);
        println!(
            "  {} {:?} {}",
            u.entity,
            u.role().map(ToString::to_string),
            status.unwrap_or_default()
        );
    }
    assert_eq!(
        Some(state.clone())
            .map(|mut s| {
                s.version = None;
                s
            })
            .as_ref(),
        focus.conference(FOCUS)
    );
    Ok(())
}
