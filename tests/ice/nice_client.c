/* A participant's media end for the A/V MCU tests: libnice for ICE (in the compatibility mode
 * of an Office Communicator 2007, 2007 R2 or RFC 5245 client), libsrtp for SRTP. Built and
 * driven by tests/ice_libnice.rs; nothing of the server's code is in it.
 *
 * usage: nice_client rfc5245|oc2007|oc2007r2
 *
 * stdout  LOCAL <ufrag> <pwd>                                  (the stream's credentials)
 *         CAND <component> <ip> <port> <priority> <user|-> <pwd|->   (host candidates)
 *         GATHERED
 *         STATE <component> <state>                            (libnice's component state)
 *         PAIR <component> <local ip:port> <remote ip:port>    (the selected pair)
 *         SENT <count>                                         (after SPEAK)
 *         RTP <seq> <pt> <csrc count> <payload hex>            (SRTP received and unprotected)
 *         BAD <srtp error>                                     (SRTP refused)
 * stdin   REMOTE <ufrag> <pwd> | CAND <component> <ip> <port> <priority> [<user> <pwd>] | END
 *         KEYS <our key> <their key>   (base64 of 30 bytes each: what we send with, what the
 *                                       MCU sends to us with)
 *         SPEAK <count> <seed>         (once component 1 is ready: <count> 20 ms PCMU packets,
 *                                       every 20 ms, payload bytes from an LCG of <seed>)
 *         QUIT
 */
#include <nice/agent.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static GMainLoop *loop;
static NiceAgent *agent;
static guint stream_id;
static GSList *remote_cands[3];
static gchar *remote_ufrag, *remote_pwd;
static srtp_t tx, rx;
static gboolean ready, keyed;
static guint to_send, sent;
static guint32 lcg;
static guint16 seq = 1000;
static guint32 ts = 90000;

static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void gathered(NiceAgent *a, guint sid, gpointer d)
{
	gchar *ufrag = NULL, *pwd = NULL;

	(void)d;
	nice_agent_get_local_credentials(a, sid, &ufrag, &pwd);
	out("LOCAL %s %s", ufrag, pwd);
	g_free(ufrag);
	g_free(pwd);
	for (guint c = 1; c <= 2; c++) {
		GSList *l = nice_agent_get_local_candidates(a, sid, c);

		for (GSList *i = l; i; i = i->next) {
			NiceCandidate *cand = i->data;
			gchar ip[INET6_ADDRSTRLEN];

			nice_address_to_string(&cand->addr, ip);
			out("CAND %u %s %u %u %s %s", c, ip, nice_address_get_port(&cand->addr),
			    cand->priority, cand->username ? cand->username : "-",
			    cand->password ? cand->password : "-");
		}
		g_slist_free_full(l, (GDestroyNotify)nice_candidate_free);
	}
	out("GATHERED");
}

/* The next payload byte: an LCG the test computes too. 0x7F (µ-law's negative zero) is
 * avoided: it decodes to the same sample as 0xFF, which a mixer writes back as 0xFF. */
static guint8 next_byte(void)
{
	guint8 b;

	lcg = lcg * 1103515245u + 12345u;
	b = (lcg >> 16) & 0xFF;
	return b == 0x7F ? 0x7E : b;
}

static gboolean speak(gpointer data)
{
	guint8 p[12 + 160 + SRTP_MAX_TRAILER_LEN];
	int len = 12 + 160;

	(void)data;
	if (sent >= to_send) {
		out("SENT %u", sent);
		return G_SOURCE_REMOVE;
	}
	p[0] = 0x80;
	p[1] = sent == 0 ? 0x80 : 0x00; /* marker on the first, PCMU */
	p[2] = seq >> 8;
	p[3] = seq & 0xFF;
	p[4] = ts >> 24;
	p[5] = ts >> 16;
	p[6] = ts >> 8;
	p[7] = ts;
	memcpy(p + 8, "\x0b\xad\xca\xfe", 4);
	for (int i = 0; i < 160; i++)
		p[12 + i] = next_byte();
	if (srtp_protect(tx, p, &len) == srtp_err_status_ok)
		nice_agent_send(agent, stream_id, 1, len, (const gchar *)p);
	seq++;
	ts += 160;
	sent++;
	return G_SOURCE_CONTINUE;
}

static void state_changed(NiceAgent *a, guint sid, guint comp, guint state, gpointer d)
{
	(void)a, (void)sid, (void)d;
	out("STATE %u %s", comp, nice_component_state_to_string(state));
	if (comp == 1 && state == NICE_COMPONENT_STATE_READY) {
		ready = TRUE;
		if (to_send && keyed)
			g_timeout_add(20, speak, NULL);
	}
}

static void selected(NiceAgent *a, guint sid, guint comp, NiceCandidate *l, NiceCandidate *r,
		     gpointer d)
{
	gchar ls[INET6_ADDRSTRLEN], rs[INET6_ADDRSTRLEN];

	(void)a, (void)sid, (void)d;
	nice_address_to_string(&l->addr, ls);
	nice_address_to_string(&r->addr, rs);
	out("PAIR %u %s:%u %s:%u", comp, ls, nice_address_get_port(&l->addr), rs,
	    nice_address_get_port(&r->addr));
}

static void received(NiceAgent *a, guint sid, guint comp, guint len, gchar *buf, gpointer d)
{
	guint8 p[2048];
	int n = (int)len;
	srtp_err_status_t st;
	GString *hex;

	(void)a, (void)sid, (void)d;
	/* Component 1 carries SRTP; SRTCP arrives on 2 and is not looked at here. */
	if (comp != 1 || !keyed || len > sizeof p || len < 12)
		return;
	memcpy(p, buf, len);
	st = srtp_unprotect(rx, p, &n);
	if (st != srtp_err_status_ok) {
		out("BAD %d", st);
		return;
	}
	int cc = p[0] & 0x0F;
	int at = 12 + 4 * cc;

	if (n < at)
		return;
	hex = g_string_sized_new(2 * (n - at));
	for (int i = at; i < n; i++)
		g_string_append_printf(hex, "%02x", p[i]);
	out("RTP %u %u %d %s", (p[2] << 8) | p[3], p[1] & 0x7F, cc, hex->str);
	g_string_free(hex, TRUE);
}

static srtp_t session(const char *key_b64, gboolean outbound)
{
	gsize n = 0;
	guchar *key = g_base64_decode(key_b64, &n);
	srtp_policy_t policy;
	srtp_t s = NULL;

	if (n != 30) {
		fprintf(stderr, "nice_client: a key of %zu bytes\n", n);
		exit(2);
	}
	memset(&policy, 0, sizeof policy);
	srtp_crypto_policy_set_rtp_default(&policy.rtp);
	srtp_crypto_policy_set_rtcp_default(&policy.rtcp);
	policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	policy.key = key;
	policy.window_size = 128;
	if (srtp_create(&s, &policy) != srtp_err_status_ok) {
		fprintf(stderr, "nice_client: srtp_create failed\n");
		exit(2);
	}
	g_free(key);
	return s;
}

static gboolean command(GIOChannel *ch, GIOCondition cond, gpointer d)
{
	gchar *line = NULL;
	gchar **t;

	(void)cond, (void)d;
	if (g_io_channel_read_line(ch, &line, NULL, NULL, NULL) != G_IO_STATUS_NORMAL) {
		g_main_loop_quit(loop);
		return FALSE;
	}
	t = g_strsplit(g_strstrip(line), " ", 0);
	if (!g_strcmp0(t[0], "REMOTE") && t[1] && t[2]) {
		remote_ufrag = g_strdup(t[1]);
		remote_pwd = g_strdup(t[2]);
	} else if (!g_strcmp0(t[0], "CAND") && g_strv_length(t) >= 5) {
		guint comp = (guint)atoi(t[1]);
		NiceCandidate *c = nice_candidate_new(NICE_CANDIDATE_TYPE_HOST);

		if (comp < 1 || comp > 2) {
			nice_candidate_free(c);
		} else {
			c->component_id = comp;
			c->stream_id = stream_id;
			c->transport = NICE_CANDIDATE_TRANSPORT_UDP;
			nice_address_set_from_string(&c->addr, t[2]);
			nice_address_set_port(&c->addr, (guint)atoi(t[3]));
			c->priority = (guint32)strtoul(t[4], NULL, 10);
			g_strlcpy(c->foundation, "1", NICE_CANDIDATE_MAX_FOUNDATION);
			if (t[5] && t[6]) { /* [MS-ICE]: credentials per candidate */
				c->username = g_strdup(t[5]);
				c->password = g_strdup(t[6]);
			}
			remote_cands[comp] = g_slist_append(remote_cands[comp], c);
		}
	} else if (!g_strcmp0(t[0], "END")) {
		if (remote_ufrag)
			nice_agent_set_remote_credentials(agent, stream_id, remote_ufrag, remote_pwd);
		for (guint c = 1; c <= 2; c++) {
			nice_agent_set_remote_candidates(agent, stream_id, c, remote_cands[c]);
			g_slist_free_full(remote_cands[c], (GDestroyNotify)nice_candidate_free);
			remote_cands[c] = NULL;
		}
	} else if (!g_strcmp0(t[0], "KEYS") && t[1] && t[2]) {
		tx = session(t[1], TRUE);
		rx = session(t[2], FALSE);
		keyed = TRUE;
	} else if (!g_strcmp0(t[0], "SPEAK") && t[1] && t[2]) {
		to_send = (guint)atoi(t[1]);
		lcg = (guint32)strtoul(t[2], NULL, 10);
		if (ready && keyed)
			g_timeout_add(20, speak, NULL);
	} else if (!g_strcmp0(t[0], "QUIT")) {
		g_main_loop_quit(loop);
	}
	g_strfreev(t);
	g_free(line);
	return TRUE;
}

static gboolean give_up(gpointer d)
{
	(void)d;
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
	NiceCompatibility compat = NICE_COMPATIBILITY_RFC5245;
	NiceAddress addr;
	GIOChannel *ch;

	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "oc2007")) {
		compat = NICE_COMPATIBILITY_OC2007;
	} else if (!strcmp(argv[1], "oc2007r2")) {
		compat = NICE_COMPATIBILITY_OC2007R2;
	} else if (strcmp(argv[1], "rfc5245")) {
		return 2;
	}
	if (srtp_init() != srtp_err_status_ok)
		return 2;
	loop = g_main_loop_new(NULL, FALSE);
	agent = nice_agent_new(g_main_loop_get_context(loop), compat);
	/* A client calls the MCU: it controls; UDP host candidates on loopback only. */
	g_object_set(agent, "controlling-mode", TRUE, "ice-tcp", FALSE, "upnp", FALSE, NULL);
	g_signal_connect(agent, "candidate-gathering-done", G_CALLBACK(gathered), NULL);
	g_signal_connect(agent, "component-state-changed", G_CALLBACK(state_changed), NULL);
	g_signal_connect(agent, "new-selected-pair-full", G_CALLBACK(selected), NULL);
	nice_address_init(&addr);
	nice_address_set_from_string(&addr, "127.0.0.1");
	nice_agent_add_local_address(agent, &addr);
	stream_id = nice_agent_add_stream(agent, 2);
	for (guint c = 1; c <= 2; c++)
		nice_agent_attach_recv(agent, stream_id, c, g_main_loop_get_context(loop), received,
				       NULL);
	if (!nice_agent_gather_candidates(agent, stream_id))
		return 1;
	ch = g_io_channel_unix_new(0);
	g_io_add_watch(ch, G_IO_IN | G_IO_HUP, command, NULL);
	/* Never outlive the test. */
	g_timeout_add_seconds(120, give_up, NULL);
	g_main_loop_run(loop);
	g_io_channel_unref(ch);
	g_object_unref(agent);
	g_main_loop_unref(loop);
	return 0;
}
