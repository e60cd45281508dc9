//! `ocs`: the command-line tool of the OCS 2007 protocol stack.
//!
//! `ocs decode <KIND> [FILE|-] [--hex] [--pretty]` parses a message and prints it as JSON.
//! Invalid input prints `error: <cause> at byte <offset>` on stderr and exits 1; usage errors
//! exit 2.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc rather than glibc's malloc: after an attack ends (thousands of connections each
/// holding up to 64 KiB, all closed at their deadlines), glibc keeps the freed memory in its
/// arenas, mimalloc hands it back to the system (issue #19; `scripts/soak.sh` measures it).
#[cfg(feature = "server")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ocs",
    version,
    about = "Tools for the Microsoft OCS 2007 protocol family"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Protect or unprotect SRTP/SRTCP packets: one hex packet per line on stdin, one hex
    /// result (or `ERR <kind>`) per line on stdout, all in one session.
    Srtp {
        /// What to do.
        action: SrtpAction,
        /// The packets are RTCP (SRTCP).
        #[arg(long)]
        rtcp: bool,
        /// The crypto suite, e.g. AES_CM_128_HMAC_SHA1_80.
        #[arg(long)]
        suite: String,
        /// Base64 master key || master salt, as in `a=crypto`.
        #[arg(long)]
        key: String,
        /// The MKI, in hex.
        #[arg(long, requires = "mki_len")]
        mki: Option<String>,
        /// The MKI length in bytes.
        #[arg(long, requires = "mki")]
        mki_len: Option<usize>,
        /// The replay window in packets (64 to 32768, a multiple of 64).
        #[arg(long, default_value_t = 128)]
        window: usize,
    },
    #[cfg(feature = "server")]
    /// Run a meeting end to end: the server in-process on loopback, three simulated
    /// participants (NTLM registration, address book, C3P conference, focus, conference state,
    /// SRTP audio with RTCP through the A/V MCU, a web conference over PSOM, promote, lock,
    /// lobby, deletion), a transcript and a quality table.
    Demo {
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
        /// Seconds of audio.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    #[cfg(feature = "server")]
    /// Run the reference server: registrar, proxy, focus, MCUs, address book; SQLite. With no
    /// configuration it runs on loopback with demo users.
    Serve {
        /// A TOML configuration file.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// Print every SIP message in and out.
        #[arg(long)]
        trace_sip: bool,
        /// Check the configuration (and reach its database) without serving: exit 0 when it
        /// is usable, 2 with what is wrong.
        #[arg(long)]
        check_config: bool,
        /// Logs as text lines or as JSON objects, one per line (for a log shipper).
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Parse a message and print it as JSON.
    Decode {
        /// What the input is.
        kind: Kind,
        /// The input file; `-` or nothing for standard input.
        file: Option<String>,
        /// The input is hex text (white space ignored), not raw bytes.
        #[arg(long)]
        hex: bool,
        /// Indent the JSON.
        #[arg(long)]
        pretty: bool,
        /// For `stun`: the password MESSAGE-INTEGRITY is keyed with (for [MS-ICE] draft 6,
        /// the candidate password's base64); the result says whether it checks out.
        #[arg(long)]
        key: Option<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (timestamp, level, fields, message).
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum SrtpAction {
    /// RTP/RTCP in, SRTP/SRTCP out.
    Protect,
    /// SRTP/SRTCP in, RTP/RTCP out.
    Unprotect,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// A SIP message (RFC 3261 with the Microsoft extensions), decoded strictly.
    Sip,
    /// A session description (RFC 4566, RFC 4568 crypto).
    Sdp,
    /// An RTP packet (RFC 3550 §5.1, RFC 8285 extensions).
    Rtp,
    /// A STUN message of ICE ([MS-ICE] draft 6, [MS-ICE2], RFC 5389); `--key` checks its
    /// integrity.
    Stun,
    /// A compound or reduced-size RTCP packet, with the [MS-RTP] extensions.
    Rtcp,
    /// A C3P request or response ([MS-CONFBAS]), or a conference-info document (RFC 4575).
    Cccp,
    /// A presence or contact-list body ([MS-PRES], [MS-SIP] roaming): contactList,
    /// roamingData, publish, batchSub, categories, SOAP, rlmi, or a multipart/related of them.
    Presence,
    /// HTTP/1.1 requests, or responses when the input starts with `HTTP/` (de-chunked).
    Http,
    /// An Address Book Server file ([MS-ABS]): F-, D- or C- .lsabs/.dabs.
    Abs,
    /// A PSOM record stream ([MS-PSOM]; layout as crates/psom/PROTOCOL.md says).
    Psom,
    /// An NTLM NEGOTIATE, CHALLENGE or AUTHENTICATE message ([MS-NLMP]): the base64 of a `gssapi-data`
    /// parameter, or the raw bytes.
    Ntlm,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Srtp {
            action,
            rtcp,
            suite,
            key,
            mki,
            mki_len,
            window,
        } => {
            let opts = ocs_stack::cli::SrtpOptions {
                protect: matches!(action, SrtpAction::Protect),
                rtcp,
                suite,
                key,
                mki,
                mki_len,
                window,
            };
            let stdin = std::io::stdin().lock();
            let stdout = std::io::stdout().lock();
            match ocs_stack::cli::srtp(&opts, stdin, stdout) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        #[cfg(feature = "server")]
        Command::Serve {
            config,
            trace_sip,
            check_config,
            log_format,
        } => serve(config.as_deref(), trace_sip, check_config, log_format),
        #[cfg(feature = "server")]
        Command::Demo { json, seconds } => demo(json.as_deref(), seconds),
        Command::Decode {
            kind,
            file,
            hex,
            pretty,
            key,
        } => match decode(kind, file.as_deref(), hex, key.as_deref()) {
            Ok(json) => {
                let text = if pretty {
                    serde_json::to_string_pretty(&json)
                } else {
                    serde_json::to_string(&json)
                }
                .unwrap_or_default();
                let mut out = std::io::stdout().lock();
                if writeln!(out, "{text}").is_err() {
                    return ExitCode::from(1);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        },
    }
}

#[cfg(feature = "server")]
fn serve(
    config: Option<&std::path::Path>,
    trace_sip: bool,
    check_config: bool,
    log_format: LogFormat,
) -> ExitCode {
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false);
    match log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    let mut cfg = match config {
        Some(p) => match ocs_stack::server::Config::from_file(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => ocs_stack::server::Config::default(),
    };
    cfg.trace_sip |= trace_sip;
    if check_config {
        let (wrong, checked) = cfg.check();
        for line in &checked {
            println!("ok     {line}");
        }
        for line in &wrong {
            println!("WRONG  {line}");
        }
        if wrong.is_empty() {
            println!("configuration OK");
            return ExitCode::SUCCESS;
        }
        return ExitCode::from(2);
    }
    let configs = match cfg.worker_configs() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // One thread per SIP engine runs its sockets and the engine together (no hand-over
    // between threads per datagram); the database writer and its checkpoints have threads
    // of their own. Ctrl-C or SIGTERM stops them all.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // The first worker starts alone (it makes the TLS certificate and migrates the schema
    // when they are missing); the others once it is listening.
    let (bound_tx, bound_rx) = std::sync::mpsc::channel::<()>();
    // Only the first worker holds the sender: if it stops before it listens, `recv` ends.
    let mut bound_tx = Some(bound_tx);
    let mut workers = Vec::new();
    for (i, c) in configs.into_iter().enumerate() {
        if i == 1 && bound_rx.recv().is_err() {
            break; // the first stopped before it was listening
        }
        let mut stop = stop_rx.clone();
        let bound_tx = bound_tx.take();
        workers.push(std::thread::spawn(move || -> std::io::Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(ocs_stack::server::run(
                c,
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
                move |b| {
                    if let Some(tx) = bound_tx {
                        let _ = tx.send(());
                    }
                    if i > 0 {
                        return;
                    }
                    // Machine-readable for scripts: where it listens.
                    println!(
                        "listening udp={} tcp={} tls={} web={} mcu={} psom={} media={}",
                        b.udp.map_or("-".into(), |a| a.to_string()),
                        b.tcp.map_or("-".into(), |a| a.to_string()),
                        b.tls.map_or("-".into(), |a| a.to_string()),
                        b.web.map_or("-".into(), |a| a.to_string()),
                        b.mcu,
                        b.psom.map_or("-".into(), |a| a.to_string()),
                        b.media.map_or("-".into(), |(a, _)| a.to_string()),
                    );
                },
            ))
        }));
    }
    let signals = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let watcher = stop_tx.clone();
    signals.spawn(async move {
        // Ctrl-C, or SIGTERM from a service manager.
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async {
                match term.as_mut() {
                    Some(t) => { t.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
        let _ = watcher.send(true);
    });
    let mut result = Ok(());
    for w in workers {
        let r = w
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("a worker panicked")));
        // One worker that stops (an error) stops the others.
        if r.is_err() {
            let _ = stop_tx.send(true);
            if result.is_ok() {
                result = r;
            }
        }
    }
    drop(signals);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(feature = "server")]
fn demo(json: Option<&std::path::Path>, seconds: u64) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let opts = ocs_stack::demo::Options {
        seconds,
        print: true,
    };
    match rt.block_on(ocs_stack::demo::run(&opts)) {
        Ok(report) => {
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&report).unwrap_or_default();
                if let Err(e) = std::fs::write(path, text) {
                    eprintln!("error: {}: {e}", path.display());
                    return ExitCode::from(1);
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn read_input(file: Option<&str>) -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    match file {
        None | Some("-") => {
            std::io::stdin()
                .read_to_end(&mut data)
                .map_err(|e| format!("cannot read standard input: {e} at byte 0"))?;
        }
        Some(path) => {
            data = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e} at byte 0"))?;
        }
    }
    Ok(data)
}

fn decode(
    kind: Kind,
    file: Option<&str>,
    hex: bool,
    key: Option<&str>,
) -> Result<serde_json::Value, String> {
    let mut data = read_input(file)?;
    if hex {
        data = ocs_stack::cli::from_hex(&data)?;
    }
    match kind {
        Kind::Sip => ocs_stack::cli::decode_sip(data.into()).map_err(|e| e.to_string()),
        Kind::Sdp => ocs_stack::cli::decode_sdp(&data).map_err(|e| e.to_string()),
        Kind::Rtp => ocs_stack::cli::decode_rtp(&data).map_err(|e| e.to_string()),
        Kind::Stun => ocs_stack::cli::decode_stun(&data, key).map_err(|e| e.to_string()),
        Kind::Rtcp => ocs_stack::cli::decode_rtcp(&data).map_err(|e| e.to_string()),
        Kind::Cccp => ocs_stack::cli::decode_cccp(data.into()).map_err(|e| e.to_string()),
        Kind::Presence => ocs_stack::cli::decode_presence(data.into()).map_err(|e| e.to_string()),
        Kind::Http => ocs_stack::cli::decode_http(&data).map_err(|e| e.to_string()),
        Kind::Abs => ocs_stack::cli::decode_abs(&data).map_err(|e| e.to_string()),
        Kind::Psom => ocs_stack::cli::decode_psom(&data).map_err(|e| e.to_string()),
        Kind::Ntlm => ocs_stack::cli::decode_ntlm(&data).map_err(|e| e.to_string()),
    }
}
