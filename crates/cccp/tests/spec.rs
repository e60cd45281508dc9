//! The specification examples listed in `../shared/notes/c3p.md`, and the C3P body of the shared
//! SIP vector, parse to the values they state; what we write from them reads back the same.
//!
//! Text marked "verbatim" is the example as the spec page prints it (white space as printed);
//! "completed" means the page excerpt stopped early and the rest was closed the obvious way;
//! "reconstructed" means the notes describe the example's structure and values but its full
//! text was not available, so the document is built from that description.

use std::path::PathBuf;

use ocs_cccp::info::{
    AdmissionPolicy, ConferenceInfo, EndpointStatus, Filter, MediaStatus, Role, State,
};
use ocs_cccp::message::{Body, Code, Message, Reason, Request, Response};
use ocs_cccp::uri::{ConferenceUri, McuType, UriKind};

/// Parses, writes, parses again: the second parse must equal the first.
fn round_trip(text: &str) -> Message {
    let m = Message::parse(text.as_bytes().to_vec()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut out = Vec::new();
    m.write(&mut out);
    let again = Message::parse(out.clone())
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&out)));
    assert_eq!(
        again,
        m,
        "rewrite differs:\n{}",
        String::from_utf8_lossy(&out)
    );
    m
}

fn request(m: Message) -> Request {
    match m {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

fn response(m: Message) -> Response {
    match m {
        Message::Response(r) => r,
        Message::Request(_) => panic!("expected a response"),
    }
}

/// [MS-CONFPRO] 4.7 Obtaining a List of MCU-Types, verbatim.
const GET_MCU_TYPES_REQUEST: &str = r#" <request C3PVersion="1"
          requestId="7" 
          from="sip:alice@contoso.com"
          to="sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory"
          xmlns="urn:ietf:params:xml:ns:cccp">
   <getAvailableMcuTypes/>
 </request>"#;

const GET_MCU_TYPES_RESPONSE: &str = r#" <response C3PVersion="1"
           requestId="7" 
       from="sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory"
           to="sip:alice@contoso.com"
           code="success"
           xmlns="urn:ietf:params:xml:ns:cccp">
   <getAvailableMcuTypes>
     <mcu-types>
   <mcuType>audio-video</mcuType>
   <mcuType>chat</mcuType>
   <mcuType>meeting</mcuType>
   <mcuType>phone-conf</mcuType>
 </mcu-types>
   </getAvailableMcuTypes>
 </response>"#;

#[test]
fn confpro_4_7_get_available_mcu_types() {
    let req = request(round_trip(GET_MCU_TYPES_REQUEST));
    assert_eq!(req.request_id, 7);
    assert_eq!(req.from, "sip:alice@contoso.com");
    assert_eq!(
        req.to,
        "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory"
    );
    assert_eq!(req.c3p_version.as_deref(), Some("1"));
    assert_eq!(
        req.command.body,
        Body::GetAvailableMcuTypes { mcu_types: None }
    );

    let resp = response(round_trip(GET_MCU_TYPES_RESPONSE));
    assert_eq!(resp.code, Code::Success);
    assert_eq!(
        (resp.request_id, &*resp.from, &*resp.to),
        (7, &*req.to, &*req.from)
    );
    let Body::GetAvailableMcuTypes {
        mcu_types: Some(types),
    } = &resp.command.body
    else {
        panic!()
    };
    assert_eq!(
        types,
        &[
            McuType::AudioVideo,
            McuType::Chat,
            McuType::Meeting,
            McuType::PhoneConf
        ]
    );

    // Our writer, from the request, produces the same response.
    let ours = req.respond(Code::Success, resp.command.body.clone());
    assert_eq!(Response::parse(ours.to_bytes()).unwrap(), resp);
    let text = String::from_utf8(ours.to_bytes().to_vec()).unwrap();
    assert_eq!(
        text,
        "<response xmlns=\"urn:ietf:params:xml:ns:cccp\" C3PVersion=\"1\" requestId=\"7\" \
         from=\"sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory\" to=\"sip:alice@contoso.com\" \
         code=\"success\"><getAvailableMcuTypes><mcu-types><mcuType>audio-video</mcuType>\
         <mcuType>chat</mcuType><mcuType>meeting</mcuType><mcuType>phone-conf</mcuType>\
         </mcu-types></getAvailableMcuTypes></response>"
    );
}

/// [MS-CONFPRO] 4.1 Create a Conference, verbatim up to the third entity view (where the
/// excerpt stops), completed with the remaining views and closing tags.
const ADD_CONFERENCE: &str = r#" <request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:mscp="http://schemas.microsoft.com/rtc/2005/08/cccpextensions" C3PVersion="1" to="sip:mhakim2@clientsemain.rtmp.selfhost.corp.microsoft.com;gruu;opaque=app:conf:focusfactory" from="sip:mhakim2@clientsemain.rtmp.selfhost.corp.microsoft.com" requestId="68537848">
   <addConference>
     <ci:conference-info xmlns:ci="urn:ietf:params:xml:ns:conference-info" entity="" xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions">
       <ci:conference-description>
         <msci:conference-id>TPDD8VYG</msci:conference-id>
         <msci:admission-policy>openAuthenticated</msci:admission-policy>
         <cis:separator xmlns:cis="urn:ietf:params:xml:ns:conference-info-separator">
         </cis:separator>
         <msci:pstn-access>
         </msci:pstn-access>
         <cis:separator xmlns:cis="urn:ietf:params:xml:ns:conference-info-separator">
         </cis:separator>
         <msci:autopromote>2147483648</msci:autopromote>
         <msci:pstn-lobby-bypass>true</msci:pstn-lobby-bypass>
       </ci:conference-description>
       <ci:conference-state>
         <locked xmlns="urn:ietf:params:xml:ns:conference-info">false</locked>
       </ci:conference-state>
       <msci:conference-view>
         <msci:entity-view entity="chat" />
         <msci:entity-view entity="audio-video" />
         <msci:entity-view entity="meeting" />
       </msci:conference-view>
     </ci:conference-info>
   </addConference>
 </request>"#;

#[test]
fn confpro_4_1_add_conference() {
    let req = request(round_trip(ADD_CONFERENCE));
    assert_eq!(req.request_id, 68_537_848);
    let Body::AddConference { info: Some(info) } = &req.command.body else {
        panic!()
    };
    assert_eq!(info.entity, "");
    let d = info.description.as_ref().unwrap();
    assert_eq!(d.conference_id.as_deref(), Some("TPDD8VYG"));
    assert_eq!(d.admission_policy, Some(AdmissionPolicy::OpenAuthenticated));
    assert!(d.pstn_access.is_some());
    assert_eq!(d.autopromote, Some(2_147_483_648));
    assert_eq!(d.pstn_lobby_bypass, Some(true));
    assert!(d.ext.is_empty(), "separators are not data: {:?}", d.ext);
    assert_eq!(info.conference_state.as_ref().unwrap().locked, Some(false));
    let views: Vec<&str> = info
        .conference_view
        .as_ref()
        .unwrap()
        .entity_views
        .iter()
        .map(|v| &*v.entity)
        .collect();
    assert_eq!(views, ["chat", "audio-video", "meeting"]);

    // Written back in the example's layout: ci:/msci: prefixes, both separators in place.
    let text = String::from_utf8(req.to_bytes().to_vec()).unwrap();
    let sep = "<cis:separator xmlns:cis=\"urn:ietf:params:xml:ns:conference-info-separator\"/>";
    let order = [
        "<ci:conference-info xmlns:ci=\"urn:ietf:params:xml:ns:conference-info\" xmlns:msci=",
        "<msci:conference-id>TPDD8VYG</msci:conference-id>",
        "<msci:admission-policy>openAuthenticated</msci:admission-policy>",
        sep,
        "<msci:pstn-access>",
        sep,
        "<msci:autopromote>2147483648</msci:autopromote>",
        "<msci:pstn-lobby-bypass>true</msci:pstn-lobby-bypass>",
        "<ci:conference-state><ci:locked>false</ci:locked></ci:conference-state>",
        "<msci:conference-view><msci:entity-view entity=\"chat\"/>",
    ];
    let mut at = 0;
    for piece in order {
        let found = text[at..]
            .find(piece)
            .unwrap_or_else(|| panic!("{piece} not after byte {at} in {text}"));
        at += found + piece.len();
    }
}

#[test]
fn shared_vector_add_user_invite_body() {
    let base = std::env::var_os("OCS_VECTORS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
        PathBuf::from,
    );
    let path = base.join("sip/ms/sipe-format-INVITE-focus-c3p-addUser.SYNTHESIZED.sip");
    let raw = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set OCS_VECTORS)", path.display()));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header/body split")
        + 4;
    let body = std::str::from_utf8(&raw[split..]).unwrap();
    let req = request(round_trip(body));
    assert_eq!(req.request_id, 2);
    assert_eq!(req.from, "sip:bob@contoso.com");
    let focus = "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16";
    assert_eq!(req.to, focus);
    let Body::AddUser {
        keys: Some(keys),
        user: Some(user),
    } = &req.command.body
    else {
        panic!()
    };
    assert_eq!(keys.conf_entity.as_deref(), Some(focus));
    assert_eq!(user.entity, "sip:bob@contoso.com");
    assert_eq!(user.roles.as_deref(), Some(&[Role::Attendee][..]));
    assert_eq!(user.endpoints.len(), 1);
    assert_eq!(
        user.endpoints[0].entity,
        "{5B0A5C49-4A43-4F8B-9D37-2E1A11A9D0F1}"
    );
    let uri = ConferenceUri::parse(&req.to).unwrap();
    assert_eq!(
        (uri.kind, uri.conference_id.as_deref()),
        (UriKind::Focus, Some("4FNRHN16"))
    );
}

/// [MS-CONFBAS] 2.2.3.4 addUser response: the body verbatim as far as the excerpt goes
/// (`<addUser> ... <clientInfo xmlns="http://schemas.m`), completed with the separator and
/// `msci2:lobby-capable` that the notes record, inside a response envelope.
const ADD_USER_RESPONSE: &str = r#"<response xmlns="urn:ietf:params:xml:ns:cccp" requestId="2" C3PVersion="1" from="sip:user@fabrikam.com;gruu;opaque=app:conf:focus:id:BE92" to="sip:user@fabrikam.com" code="success"><addUser> <conferenceKeys confEntity="sip:user@fabrikam.com;gruu;opaque=app:conf:focus:id:BE92"/> <user entity="sip:user@fabrikam.com"> <roles> <entry>attendee</entry> </roles> <clientInfo xmlns="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions"> <cis:separator xmlns:cis="urn:ietf:params:xml:ns:conference-info-separator"/> <lobby-capable xmlns="http://schemas.microsoft.com/rtc/2008/12/confinfoextensions">true</lobby-capable> </clientInfo> </user> </addUser></response>"#;

#[test]
fn confbas_2_2_3_4_add_user_response() {
    let resp = response(round_trip(ADD_USER_RESPONSE));
    let Body::AddUser {
        keys: Some(keys),
        user: Some(user),
    } = &resp.command.body
    else {
        panic!()
    };
    assert_eq!(
        keys.conf_entity.as_deref(),
        Some("sip:user@fabrikam.com;gruu;opaque=app:conf:focus:id:BE92")
    );
    assert_eq!(user.entity, "sip:user@fabrikam.com");
    assert_eq!(user.role(), Some(&Role::Attendee));
    assert_eq!(
        user.client_info.as_ref().and_then(|c| c.lobby_capable),
        Some(true)
    );
}

/// [MS-CONFBAS] 2.2.3.14 deleteConference response body, verbatim, in a response envelope.
#[test]
fn confbas_2_2_3_14_delete_conference_response() {
    let text = r#"<response xmlns="urn:ietf:params:xml:ns:cccp" requestId="9" from="sip:alice@fabrikam.com;gruu;opaque=app:conf:focus:id:5D3747C" to="sip:alice@fabrikam.com" code="success"><deleteConference> <conference-info entity="sip:alice@fabrikam.com;gruu;opaque=app:conf:focus:id:5D3747C"/> </deleteConference></response>"#;
    let resp = response(round_trip(text));
    let Body::DeleteConference {
        keys: None,
        info: Some(info),
    } = &resp.command.body
    else {
        panic!()
    };
    assert_eq!(
        info.entity,
        "sip:alice@fabrikam.com;gruu;opaque=app:conf:focus:id:5D3747C"
    );
    assert_eq!(**info, ConferenceInfo::new(info.entity.clone()));
}

/// [MS-CONFPRO] 4.5 getConference to the focus factory, reconstructed: requestId 5, the C3P and
/// msci namespaces on the root, `conferenceKeys` with `msci:conference-id="SDFBSD12"` and the
/// client certificate in `msci:encryption-key/msci:x509-certificate`.
#[test]
fn confpro_4_5_get_conference_by_id() {
    let text = r#"<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions" C3PVersion="1" to="sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory" from="sip:alice@contoso.com" requestId="5"><getConference><conferenceKeys msci:conference-id="SDFBSD12"><msci:encryption-key><msci:x509-certificate>308201A2A0030201</msci:x509-certificate></msci:encryption-key></conferenceKeys></getConference></request>"#;
    let req = request(round_trip(text));
    assert_eq!(req.request_id, 5);
    let Body::GetConference {
        keys: Some(k),
        info: None,
    } = &req.command.body
    else {
        panic!()
    };
    assert_eq!(k.conference_id.as_deref(), Some("SDFBSD12"));
    assert_eq!(
        k.encryption_key
            .as_ref()
            .and_then(|e| e.x509_certificate.as_deref()),
        Some("308201A2A0030201")
    );
}

/// [MS-CONFBAS] 4.4.7 getConference to the focus in INFO, reconstructed: `conferenceKeys` with
/// `confEntity` set to the focus URI.
#[test]
fn confbas_4_4_7_get_conference_by_focus() {
    let text = r#"<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions" C3PVersion="1" to="sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:SDFBSD12" from="sip:bob@contoso.com" requestId="12"><getConference><conferenceKeys confEntity="sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:SDFBSD12"><msci:encryption-key><msci:x509-certificate>3082</msci:x509-certificate></msci:encryption-key></conferenceKeys></getConference></request>"#;
    let req = request(round_trip(text));
    let Body::GetConference { keys: Some(k), .. } = &req.command.body else {
        panic!()
    };
    assert_eq!(
        k.conf_entity.as_deref(),
        Some("sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:SDFBSD12")
    );
}

/// [MS-CONFBAS] 4.4.10 modifyConference, reconstructed: requestId 355465752, the C3P and mscp
/// namespaces, `mscp:mcuUri` naming the A/V MCU, a partial conference-info with a partial
/// conference view holding one partial entity view.
#[test]
fn confbas_4_4_10_modify_conference() {
    let text = r#"<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:mscp="http://schemas.microsoft.com/rtc/2005/08/cccpextensions" C3PVersion="1" to="sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:TDVDW046" from="sip:alice@contoso.com" requestId="355465752"><modifyConference mscp:mcuUri="sip:alice@contoso.com;gruu;opaque=app:conf:audio-video:id:TDVDW046"><ci:conference-info xmlns:ci="urn:ietf:params:xml:ns:conference-info" entity="sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:TDVDW046" state="partial" xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions"><msci:conference-view ci:state="partial"><msci:entity-view ci:state="partial" entity="sip:alice@contoso.com;gruu;opaque=app:conf:audio-video:id:TDVDW046"><msci:entity-settings><msci:mute-attendees>true</msci:mute-attendees></msci:entity-settings></msci:entity-view></msci:conference-view></ci:conference-info></modifyConference></request>"#;
    let req = request(round_trip(text));
    assert_eq!(req.request_id, 355_465_752);
    assert_eq!(
        req.command.mcu_uri.as_deref(),
        Some("sip:alice@contoso.com;gruu;opaque=app:conf:audio-video:id:TDVDW046")
    );
    let Body::ModifyConference { info: Some(info) } = &req.command.body else {
        panic!()
    };
    assert_eq!(info.state, State::Partial);
    let view = info.conference_view.as_ref().unwrap();
    assert_eq!(view.state, State::Partial);
    assert_eq!(view.entity_views[0].state, State::Partial);
    // entity-settings is not typed: it is kept and written back.
    assert_eq!(view.entity_views[0].ext.elements[0].name, "entity-settings");
    assert_eq!(
        view.entity_views[0].ext.elements[0]
            .child("mute-attendees")
            .unwrap()
            .text(),
        "true"
    );
}

/// The in-conference commands an OCS 2007 client sends in INFO (shapes of pidgin-sipe's
/// `sipe-conf.c`: modifyUserRoles, modifyConferenceLock, deleteUser, and modifyEndpointMedia
/// per [MS-CONFAV] 3.2.5.4), and the capabilities response it reads.
#[test]
fn client_commands() {
    let head = r#"<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:mscp="http://schemas.microsoft.com/rtc/2005/08/cccpextensions" C3PVersion="1" to="sip:a@b;gruu;opaque=app:conf:focus:id:ABCDEFGH" from="sip:c@b" requestId="3">"#;
    let focus = "sip:a@b;gruu;opaque=app:conf:focus:id:ABCDEFGH";
    let roles = format!(
        r#"{head}<modifyUserRoles><userKeys confEntity="{focus}" userEntity="sip:d@b"/><user-roles xmlns="urn:ietf:params:xml:ns:conference-info"><entry>presenter</entry></user-roles></modifyUserRoles></request>"#
    );
    let Body::ModifyUserRoles {
        keys: Some(k),
        roles: Some(r),
    } = request(round_trip(&roles)).command.body
    else {
        panic!()
    };
    assert_eq!(
        (k.user_entity.as_deref(), r.as_slice()),
        (Some("sip:d@b"), &[Role::Presenter][..])
    );

    let lock = format!(
        r#"{head}<modifyConferenceLock><conferenceKeys confEntity="{focus}"/><locked>true</locked></modifyConferenceLock></request>"#
    );
    let Body::ModifyConferenceLock {
        locked: Some(true), ..
    } = request(round_trip(&lock)).command.body
    else {
        panic!()
    };

    let del = format!(
        r#"{head}<deleteUser><userKeys confEntity="{focus}" userEntity="sip:d@b"/></deleteUser></request>"#
    );
    let Body::DeleteUser { keys: Some(k) } = request(round_trip(&del)).command.body else {
        panic!()
    };
    assert_eq!(k.user_entity.as_deref(), Some("sip:d@b"));

    let av = "sip:a@b;gruu;opaque=app:conf:audio-video:id:ABCDEFGH";
    let media = format!(
        r#"{head}<modifyEndpointMedia mscp:mcuUri="{av}" xmlns:mscp="http://schemas.microsoft.com/rtc/2005/08/cccpextensions"><mediaKeys confEntity="{focus}" userEntity="sip:c@b" endpointEntity="{{E1}}" mediaId="1"/><ci:media xmlns:ci="urn:ietf:params:xml:ns:conference-info" id="1"><ci:type>audio</ci:type><ci:status>recvonly</ci:status><media-ingress-filter xmlns="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions">block</media-ingress-filter></ci:media></modifyEndpointMedia></request>"#
    );
    let req = request(round_trip(&media));
    assert_eq!(req.command.mcu_uri.as_deref(), Some(av));
    let Body::ModifyEndpointMedia {
        keys: Some(k),
        media: Some(m),
    } = req.command.body
    else {
        panic!()
    };
    assert_eq!(
        (k.endpoint_entity.as_deref(), k.media_id.as_deref()),
        (Some("{E1}"), Some("1"))
    );
    assert_eq!(
        (m.status, m.ingress_filter),
        (Some(MediaStatus::RecvOnly), Some(Filter::Block))
    );

    let caps = r#"<response xmlns="urn:ietf:params:xml:ns:cccp" requestId="1" from="sip:a@b;gruu;opaque=app:conf:focusfactory" to="sip:a@b" code="success"><getConferencingCapabilities><mcu-types><mcuType>chat</mcuType><mcuType>audio-video</mcuType></mcu-types><pstn-bridging><access-numbers><region name="Europe"><access-number><number>+33 1 23 45 67 89</number></access-number></region><default-region>Europe</default-region></access-numbers></pstn-bridging></getConferencingCapabilities></response>"#;
    let Body::GetConferencingCapabilities {
        mcu_types: Some(t),
        pstn_bridging: Some(p),
    } = response(round_trip(caps)).command.body
    else {
        panic!()
    };
    assert_eq!(t, [McuType::Chat, McuType::AudioVideo]);
    assert_eq!(
        (&*p.regions[0].name, &*p.regions[0].numbers[0]),
        ("Europe", "+33 1 23 45 67 89")
    );
    assert_eq!(p.default_region.as_deref(), Some("Europe"));
}

/// [MS-CONFBAS] 2.2.3.15 dial-out and 2.2.3.18 dial-in: `joining-method`, the MCU in
/// `mscp:mcuUri`, and `connection-info` entries in the response (the web conferencing keys
/// are case-sensitive, the Mcu-* keys are not).
#[test]
fn dial_in_and_dial_out() {
    let out = r#"<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:mscp="http://schemas.microsoft.com/rtc/2005/08/cccpextensions" to="sip:a@b;gruu;opaque=app:conf:focus:id:ABCDEFGH" from="sip:a@b" requestId="4"><addUser mscp:mcuUri="sip:a@b;gruu;opaque=app:conf:audio-video:id:ABCDEFGH"><conferenceKeys confEntity="sip:a@b;gruu;opaque=app:conf:focus:id:ABCDEFGH"/><ci:user xmlns:ci="urn:ietf:params:xml:ns:conference-info" entity="sip:e@b"><ci:roles><ci:entry>attendee</ci:entry></ci:roles><ci:endpoint entity="{9F0D6A2E-1C4B-4B7A-8E5F-3D2C1B0A9F8E}" endpoint-uri="tel:+15550100"><ci:joining-method>dialed-out</ci:joining-method></ci:endpoint></ci:user></addUser></request>"#;
    let req = request(round_trip(out));
    let Body::AddUser { user: Some(u), .. } = &req.command.body else {
        panic!()
    };
    assert_eq!(
        u.endpoints[0].joining_method,
        Some(ocs_cccp::info::JoiningMethod::DialedOut)
    );
    assert_eq!(u.endpoints[0].ext.attributes[0].name, "endpoint-uri");

    let resp = r#"<response xmlns="urn:ietf:params:xml:ns:cccp" requestId="5" from="sip:a@b;gruu;opaque=app:conf:meeting:id:ABCDEFGH" to="sip:a@b" code="success"><addUser><conferenceKeys confEntity="sip:a@b;gruu;opaque=app:conf:meeting:id:ABCDEFGH"/><ci:user xmlns:ci="urn:ietf:params:xml:ns:conference-info" xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions" entity="sip:a@b"><ci:roles><ci:entry>presenter</ci:entry></ci:roles><ci:endpoint entity="{E2}"><ci:joining-method>dialed-in</ci:joining-method><msci:connection-info><msci:entry><msci:key>mcu-server-uri</msci:key><msci:value>sip:pool.b;transport=tls</msci:value></msci:entry><msci:entry><msci:key>sAuthId</msci:key><msci:value>1234567890</msci:value></msci:entry><msci:entry><msci:key>serverURL</msci:key><msci:value>psom://dataconf.b:8057/</msci:value></msci:entry></msci:connection-info></ci:endpoint></ci:user></addUser></response>"#;
    let r = response(round_trip(resp));
    let Body::AddUser { user: Some(u), .. } = &r.command.body else {
        panic!()
    };
    let ep = &u.endpoints[0];
    assert_eq!(
        ep.connection_value("Mcu-Server-Uri").map(|v| &**v),
        Some("sip:pool.b;transport=tls")
    );
    assert_eq!(
        ep.connection_value("sAuthId").map(|v| &**v),
        Some("1234567890")
    );
    assert_eq!(ep.connection_value("sauthid"), None);
    assert_eq!(
        ep.connection_value("serverURL").map(|v| &**v),
        Some("psom://dataconf.b:8057/")
    );
}

/// An RFC 4575 §6 style notification with the Microsoft extensions an OCS 2007 client reads
/// (subject, conf-uris with purposes, organizer, users with roles and endpoints with
/// session-type, status and media, the IM MCU's lock in its entity view).
const NOTIFY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions" entity="sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16" state="full" version="1">
  <conference-description>
    <subject>Budget &amp; planning</subject>
    <conf-uris>
      <entry><uri>sip:alice@contoso.com;gruu;opaque=app:conf:chat:id:4FNRHN16</uri><purpose>chat</purpose></entry>
      <entry><uri>sip:alice@contoso.com;gruu;opaque=app:conf:audio-video:id:4FNRHN16</uri><purpose>audio-video</purpose></entry>
    </conf-uris>
    <msci:conference-id>4FNRHN16</msci:conference-id>
    <msci:expiry-time>2009-07-13T17:57:09Z</msci:expiry-time>
    <msci:admission-policy>closedAuthenticated</msci:admission-policy>
    <msci:organizer><msci:display-name>Alice</msci:display-name><msci:uri>sip:alice@contoso.com</msci:uri></msci:organizer>
  </conference-description>
  <conference-state><user-count>2</user-count><active>true</active><locked>true</locked></conference-state>
  <users>
    <user entity="sip:alice@contoso.com">
      <display-text>Alice</display-text>
      <roles><entry>presenter</entry></roles>
      <endpoint entity="{A1}" session-type="focus"><status>connected</status><joining-method>dialed-in</joining-method></endpoint>
      <endpoint entity="sip:alice@contoso.com;opaque=user:epid:x;gruu" session-type="audio-video">
        <status>connected</status>
        <media id="1"><type>audio</type><label>main-audio</label><src-id>12345</src-id><status>sendrecv</status><msci:media-ingress-filter>unblock</msci:media-ingress-filter></media>
      </endpoint>
    </user>
    <user entity="sip:carol@contoso.com">
      <roles><entry>attendee</entry></roles>
      <endpoint entity="{C1}" session-type="focus"><status>on-hold</status></endpoint>
    </user>
  </users>
  <msci:conference-view>
    <msci:entity-view entity="sip:alice@contoso.com;gruu;opaque=app:conf:chat:id:4FNRHN16">
      <msci:entity-state><msci:locked>true</msci:locked><msci:media><msci:entry label="chat"><msci:type>chat</msci:type></msci:entry></msci:media></msci:entity-state>
    </msci:entity-view>
  </msci:conference-view>
</conference-info>"#;

#[test]
fn rfc4575_notification_with_ms_extensions() {
    let ci = ConferenceInfo::parse(NOTIFY.as_bytes().to_vec()).unwrap();
    assert_eq!((ci.state.clone(), ci.version), (State::Full, Some(1)));
    let d = ci.description.as_ref().unwrap();
    assert_eq!(d.subject.as_deref(), Some("Budget & planning"));
    assert_eq!(
        ci.conf_uri("chat").map(|u| &**u),
        Some("sip:alice@contoso.com;gruu;opaque=app:conf:chat:id:4FNRHN16")
    );
    assert_eq!(d.expiry_time.as_ref().unwrap().at.0, 1_247_507_829);
    assert_eq!(
        d.organizer.as_ref().unwrap().display_name.as_deref(),
        Some("Alice")
    );
    assert!(ci.locked());
    assert_eq!(ci.user_list().len(), 2);
    let alice = ci.user("sip:alice@contoso.com").unwrap();
    assert_eq!(alice.role(), Some(&Role::Presenter));
    let av = &alice.endpoints[1];
    assert_eq!(av.session_type.as_deref(), Some("audio-video"));
    assert_eq!(av.media[0].src_id.as_deref(), Some("12345"));
    assert_eq!(av.media[0].ingress_filter, Some(Filter::Unblock));
    let lobby: Vec<&str> = ci.lobby().map(|u| &*u.entity).collect();
    assert_eq!(lobby, ["sip:carol@contoso.com"]);
    assert_eq!(
        ci.user("sip:carol@contoso.com").unwrap().endpoints[0].status,
        Some(EndpointStatus::OnHold)
    );
    let view = &ci.conference_view.as_ref().unwrap().entity_views[0];
    let es = view.entity_state.as_ref().unwrap();
    assert_eq!(es.locked, Some(true));
    assert_eq!(
        es.media.as_ref().unwrap()[0].media_type.as_deref(),
        Some("chat")
    );
    // And back.
    assert_eq!(ConferenceInfo::parse(ci.to_bytes()).unwrap(), ci);
}

#[test]
fn failure_reason_is_an_attribute_of_the_command() {
    let req = Request::new(
        1,
        "sip:a@b",
        "sip:a@b;gruu;opaque=app:conf:focus:id:ABCDEFGH",
        Body::DeleteConference {
            keys: Some(ocs_cccp::message::Keys::conference(
                "sip:a@b;gruu;opaque=app:conf:focus:id:ABCDEFGH",
            )),
            info: None,
        },
    );
    let f = req.fail(Reason::ConferenceDoesNotExist);
    let text = String::from_utf8(f.to_bytes().to_vec()).unwrap();
    assert!(text.contains(r#"code="failure""#), "{text}");
    assert!(
        text.contains(r#"<deleteConference reason="conferenceDoesNotExist"><conferenceKeys"#),
        "{text}"
    );
    assert_eq!(Response::parse(f.to_bytes()).unwrap(), f);
    let odd = text.replace("conferenceDoesNotExist", "somethingNew");
    assert_eq!(
        Response::parse(odd.into_bytes()).unwrap().reason,
        Some(Reason::Other("somethingNew".into()))
    );
}
