//! The A/V MCU's SDP offer/answer (RFC 3264, [MS-SDPEXT] `a=crypto`): every offered `m=` line
//! answered, the first audio (PCMU or PCMA) and video taken, the rest refused with port 0.
//!
//! Encryption follows [MS-SDPEXT] 3.1.5.1 and the MCU's [`SrtpPolicy`]: an `RTP/SAVP` line
//! needs SRTP; an `RTP/AVP` line with a usable `a=crypto` asks for it optionally, and taking
//! it is answering `RTP/SAVP` with an `a=crypto` of ours (a key of the MCU's own per leg and
//! medium); an `RTP/AVP` line without one is plain RTP. `Required` refuses plain RTP, `Off`
//! refuses SRTP (an `RTP/AVP` offer's keys are declined: the answer has no `a=crypto`).

use std::net::SocketAddr;

pub use crate::media::MediaKind;
use crate::srtp::Policy;

use super::{Mcus, MediaLeg, MediaOp, SrtpPolicy};

/// The A/V MCU's answer to an offer: the SDP, and the relay change to make once the session
/// is accepted.
#[derive(Debug, Clone)]
pub struct AvAnswer {
    /// The answer SDP.
    pub sdp: String,
    /// The leg for the relay (`MediaOp::Join`).
    pub join: MediaOp,
    /// Its leg id.
    pub leg: crate::media::LegId,
}

impl Mcus {
    /// Answers an SDP offer to the A/V MCU conference `conference` from `user` (address of
    /// record): the audio (PCMU or PCMA) answered with the MCU's media address and — when it
    /// is SRTP — a key of its own for this leg, video likewise, other lines refused.
    ///
    /// # Errors
    /// Why the offer cannot be taken, for a `488` with a Warning: no media sockets, not SDP,
    /// no usable audio (under the encryption policy).
    pub fn av_answer(
        &mut self,
        conference: &str,
        user: &str,
        offer: &[u8],
    ) -> Result<AvAnswer, &'static str> {
        let (Some(media_rtp), Some(media_rtcp)) = (self.cfg.media_rtp, self.cfg.media_rtcp) else {
            return Err("this MCU has no media sockets");
        };
        let offer = media_offer(offer, self.cfg.srtp)?;
        let leg_id = self.next_media_leg;
        self.next_media_leg += 1;
        let ip = media_rtp.ip();
        // One answer line per offered line (RFC 3264 §6): audio and video taken, each with a
        // key of ours for this leg; anything else refused with port 0.
        let mut sdp =
            format!("v=0\r\no=- {leg_id} 1 IN IP4 {ip}\r\ns=session\r\nc=IN IP4 {ip}\r\nt=0 0\r\n");
        let mut accepted: Vec<(MediaKind, MediaLeg)> = Vec::new();
        for line in &offer.lines {
            let Some((kind, stream)) = &line.stream else {
                sdp.push_str(&format!(
                    "m={} 0 {} {}\r\n",
                    line.media, line.proto, line.format
                ));
                continue;
            };
            let b = self.rng.next_bytes();
            let ssrc = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let pt = stream.payload_type;
            let proto = if stream.key.is_some() {
                "RTP/SAVP"
            } else {
                "RTP/AVP"
            };
            sdp.push_str(&format!(
                "m={} {} {proto} {pt}\r\na=rtcp:{}\r\n",
                line.media,
                media_rtp.port(),
                media_rtcp.port()
            ));
            let outbound = match &stream.key {
                Some((tag, _)) => {
                    // Our key for this leg and medium: 30 bytes nobody can predict.
                    let mut key_salt = Vec::with_capacity(32);
                    for _ in 0..4 {
                        key_salt.extend_from_slice(&self.rng.next_bytes());
                    }
                    key_salt.truncate(30);
                    let suite = crate::srtp::Suite::AesCm128HmacSha1_80;
                    let ours = crate::srtp::sdes::Crypto::new(*tag, suite, &key_salt, true);
                    sdp.push_str(&format!("a=crypto:{ours}\r\n"));
                    Some(ours.policy().map_err(|_| "no key could be made")?)
                }
                None => None,
            };
            if let Some(map) = &stream.rtpmap {
                sdp.push_str(&format!("a=rtpmap:{map}\r\n"));
            }
            // ICE as the participant speaks it: the MCU's host candidates with credentials
            // of its own for this leg (audio only).
            let ice = match (&stream.ice, kind) {
                (Some((flavor, remote)), MediaKind::Audio) => {
                    let mut seed = [0u8; 32];
                    for chunk in seed.chunks_mut(8) {
                        chunk.copy_from_slice(&self.rng.next_bytes());
                    }
                    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::from_seed(seed);
                    let mut agent_seed = [0u8; 32];
                    for chunk in agent_seed.chunks_mut(8) {
                        chunk.copy_from_slice(&self.rng.next_bytes());
                    }
                    let local = crate::ice::Credentials::random(*flavor, &mut rng);
                    sdp.push_str(&crate::ice::sdp_lines(
                        *flavor, &local, media_rtp, media_rtcp,
                    ));
                    Some(Box::new(super::IceLeg {
                        flavor: *flavor,
                        local,
                        remote: remote.clone(),
                        seed: agent_seed,
                    }))
                }
                _ => None,
            };
            sdp.push_str("a=sendrecv\r\n");
            accepted.push((
                *kind,
                MediaLeg {
                    rtp: stream.rtp,
                    rtcp: stream.rtcp,
                    inbound: stream.key.as_ref().map(|(_, p)| p.clone()),
                    outbound,
                    ssrc,
                    payload_type: pt,
                    ice,
                },
            ));
        }
        let audio = accepted
            .iter()
            .position(|(k, _)| *k == MediaKind::Audio)
            .map(|i| accepted.remove(i).1)
            .ok_or("no usable audio")?;
        let video = accepted.pop().map(|(_, v)| v);
        Ok(AvAnswer {
            sdp,
            join: MediaOp::Join {
                conference: conference.to_owned(),
                leg: leg_id,
                user: user.to_owned(),
                audio: Box::new(audio),
                video: video.map(Box::new),
            },
            leg: leg_id,
        })
    }
}

/// One medium of an offer the A/V MCU takes.
struct OfferedStream {
    rtp: SocketAddr,
    rtcp: SocketAddr,
    payload_type: u8,
    /// The `a=rtpmap` value of that payload type, if the offer had one.
    rtpmap: Option<String>,
    /// The `a=crypto` taken (its tag and key): SRTP; `None`: plain RTP.
    key: Option<(u32, Policy)>,
    /// The participant's ICE (its flavor and credentials), if it offered ICE.
    ice: Option<(crate::ice::Flavor, Vec<crate::ice::Credentials>)>,
}

/// One `m=` line of an offer and what the MCU does with it.
struct OfferedLine {
    media: String,
    proto: String,
    format: String,
    stream: Option<(MediaKind, OfferedStream)>,
}

/// What an offer asks of the A/V MCU.
struct Offer {
    lines: Vec<OfferedLine>,
}

/// Reads an SDP offer: the first `m=audio` (PCMU or PCMA) is taken and must be there, the
/// first `m=video` (its first payload type) is taken, each when `srtp` allows its encryption
/// (see the [module documentation](self); a usable `a=crypto` is AES_CM_128_HMAC_SHA1_80 or
/// _32), with the connection address (media level, else session level) and `a=rtcp` (else
/// the RTP port + 1). Other lines are kept to be refused.
fn media_offer(body: &[u8], srtp: SrtpPolicy) -> Result<Offer, &'static str> {
    use crate::sip::sdp::SessionDescription;
    let text = std::str::from_utf8(body).map_err(|_| "the offer is not UTF-8")?;
    let sdp = SessionDescription::parse(text).map_err(|_| "the offer is not SDP")?;
    let mut lines = Vec::new();
    let (mut audio, mut video) = (false, false);
    for m in &sdp.media {
        let kind = match m.media {
            "audio" if !audio => Some(MediaKind::Audio),
            "video" if !video => Some(MediaKind::Video),
            _ => None,
        };
        let savp = m.proto.eq_ignore_ascii_case("RTP/SAVP");
        let avp = m.proto.eq_ignore_ascii_case("RTP/AVP");
        let stream = kind.filter(|_| m.port != 0 && (savp || avp)).and_then(|k| {
            let pt = m
                .formats
                .iter()
                .filter_map(|f| f.parse::<u8>().ok())
                .find(|&p| k == MediaKind::Video || p == 0 || p == 8)?;
            let addr = m.connections.first().or(sdp.connection.as_ref())?.address;
            let ip: std::net::IpAddr = addr.parse().ok()?;
            let rtcp_port = m
                .attribute("rtcp")
                .and_then(|v| v.split_whitespace().next())
                .and_then(|p| p.parse::<u16>().ok())
                .unwrap_or(m.port.wrapping_add(1));
            let offered = m.attributes_named("crypto").find_map(|v| {
                let c = crate::srtp::sdes::Crypto::parse(v).ok()?;
                let p = c.policy().ok()?;
                matches!(
                    c.suite,
                    crate::srtp::Suite::AesCm128HmacSha1_80
                        | crate::srtp::Suite::AesCm128HmacSha1_32
                )
                .then_some((c.tag, p))
            });
            let key = match (srtp, savp, offered) {
                (SrtpPolicy::Off, true, _) | (_, true, None) => return None,
                (SrtpPolicy::Off, false, _) => None,
                (_, _, Some(k)) => Some(k),
                (SrtpPolicy::Required, false, None) => return None,
                (SrtpPolicy::Optional, false, None) => None,
            };
            let pts = pt.to_string();
            let rtpmap = m
                .attributes_named("rtpmap")
                .find(|v| v.split_whitespace().next() == Some(pts.as_str()))
                .map(str::to_owned)
                .or_else(|| match pt {
                    0 => Some("0 PCMU/8000".into()),
                    8 => Some("8 PCMA/8000".into()),
                    _ => None,
                });
            Some((
                k,
                OfferedStream {
                    rtp: SocketAddr::new(ip, m.port),
                    rtcp: SocketAddr::new(ip, rtcp_port),
                    payload_type: pt,
                    rtpmap,
                    key,
                    ice: crate::ice::offered(
                        m.attributes.iter().map(|a| (a.name, a.value.unwrap_or(""))),
                        sdp.attributes
                            .iter()
                            .map(|a| (a.name, a.value.unwrap_or(""))),
                    ),
                },
            ))
        });
        match stream.as_ref().map(|(k, _)| *k) {
            Some(MediaKind::Audio) => audio = true,
            Some(MediaKind::Video) => video = true,
            None => {}
        }
        lines.push(OfferedLine {
            media: m.media.to_owned(),
            proto: m.proto.to_owned(),
            format: m.formats.first().copied().unwrap_or("0").to_owned(),
            stream,
        });
    }
    if !audio {
        return Err(match srtp {
            SrtpPolicy::Required => {
                "no usable audio: PCMU or PCMA, SRTP with an AES_CM_128 a=crypto (required here)"
            }
            SrtpPolicy::Optional => {
                "no usable audio: PCMU or PCMA, RTP/AVP or RTP/SAVP with an AES_CM_128 a=crypto"
            }
            SrtpPolicy::Off => {
                "no usable audio: PCMU or PCMA over plain RTP/AVP (SRTP is off here)"
            }
        });
    }
    Ok(Offer { lines })
}
