/*
 * A headless libpurple client that signs in with pidgin-sipe (prpl-sipe) and speaks a line
 * protocol, so that tests/pidgin_sipe.rs can drive a real OCS client against `ocs serve`.
 *
 *   driver ACCOUNT PASSWORD HOST:PORT tls|tcp ntlm|krb5 [LOGIN]
 *
 * ACCOUNT is the SIP address (alice@contoso.com). LOGIN defaults, for NTLM, to DOMAIN\user
 * made from it (CONTOSO\alice), which sipe splits into the NTLM user and domain; for Kerberos
 * to ACCOUNT itself, which sipe turns into the principal alice@CONTOSO.COM (sip-sec-gssapi.c).
 * Kerberos finds its KDC through the environment (KRB5_CONFIG, as scripts/kdc.sh prints it).
 *
 * stdout, one event a line:  SIGNED-IN
 *                            IM <from-uri> <text>        (HTML stripped)
 *                            TYPING <from-uri>
 *                            NOTE <who> <text>           (an error or system line in a conversation)
 *                            NOTIFY <primary> <secondary> (a notification dialog)
 *                            ERROR <text>                (the connection failed; exit status 1)
 *                            STATUS <buddy-uri> <status-id> (a buddy's presence changed)
 *                            GROUP <name> | BUDDY <uri> <group> <allowed|blocked> | LIST-END
 *                                                        (the answer to "list")
 * stdin, one command a line: im <to-uri> <text>
 *                            typing <to-uri>              (tell a peer we are typing)
 *                            add <uri> <group>            (add a buddy, creating the group)
 *                            remove <uri>                 (remove a buddy from every group)
 *                            rename-group <old> <new>
 *                            delete-group <name>          (an empty group)
 *                            status available|away|busy|dnd
 *                            block <uri> | unblock <uri>
 *                            list                         (the buddy list, as above)
 *                            quit                         (end of input quits as well)
 *
 * PURPLE_DEBUG=1 sends libpurple's and sipe's debug log (whole SIP messages) to stderr.
 * The user directory is a fresh temporary one, removed at exit unless OCS_KEEP_PURPLE_DIR is
 * set; nothing in ~/.purple is read or written.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include <purple.h>

#define UI_ID "ocs-sipe-driver"

static GMainLoop *loop;
static PurpleAccount *account;
static int exit_status;
static gboolean debug;

/* One event line on stdout. Text from the network may hold line breaks: they become spaces
 * so that the reader can rely on one event per line. */
static void emit(const char *kind, const char *a, const char *b)
{
	GString *line = g_string_new(kind);

	if (a)
		g_string_append_printf(line, " %s", a);
	if (b)
		g_string_append_printf(line, " %s", b);
	for (gsize i = 0; i < line->len; i++)
		if (line->str[i] == '\n' || line->str[i] == '\r')
			line->str[i] = ' ';
	puts(line->str);
	fflush(stdout);
	g_string_free(line, TRUE);
}

/* ---- event loop: libpurple's timers and sockets on the GLib main loop ---- */

struct input {
	PurpleInputFunction func;
	gpointer data;
};

static gboolean input_ready(GIOChannel *source, GIOCondition cond, gpointer data)
{
	struct input *in = data;
	PurpleInputCondition pc = 0;

	if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))
		pc |= PURPLE_INPUT_READ;
	if (cond & (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL))
		pc |= PURPLE_INPUT_WRITE;
	in->func(in->data, g_io_channel_unix_get_fd(source), pc);
	return TRUE;
}

static guint input_add(int fd, PurpleInputCondition cond, PurpleInputFunction func,
		       gpointer data)
{
	struct input *in = g_new0(struct input, 1);
	GIOCondition gc = 0;
	GIOChannel *ch;
	guint id;

	in->func = func;
	in->data = data;
	/* HUP and ERR wake a reader too: libpurple learns of a closed socket from read(). */
	if (cond & PURPLE_INPUT_READ)
		gc |= G_IO_IN | G_IO_HUP | G_IO_ERR;
	if (cond & PURPLE_INPUT_WRITE)
		gc |= G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL;
	ch = g_io_channel_unix_new(fd);
	id = g_io_add_watch_full(ch, G_PRIORITY_DEFAULT, gc, input_ready, in, g_free);
	g_io_channel_unref(ch);
	return id;
}

static PurpleEventLoopUiOps eventloop_ops = {
	.timeout_add = g_timeout_add,
	.timeout_remove = g_source_remove,
	.input_add = input_add,
	.input_remove = g_source_remove,
	.timeout_add_seconds = g_timeout_add_seconds,
};

/* ---- debug log to stderr, never stdout ---- */

static void debug_print(PurpleDebugLevel level, const char *category, const char *text)
{
	static const char *names[] = { "all", "misc", "info", "warning", "error", "fatal" };

	fprintf(stderr, "[%s] %s: %s", level < G_N_ELEMENTS(names) ? names[level] : "?",
		category ? category : "-", text);
	if (!g_str_has_suffix(text, "\n"))
		fputc('\n', stderr);
}

static gboolean debug_is_enabled(PurpleDebugLevel level, const char *category)
{
	(void)level;
	(void)category;
	return debug;
}

static PurpleDebugUiOps debug_ops = {
	.print = debug_print,
	.is_enabled = debug_is_enabled,
};

/* ---- requests: every dialog is answered as a user who accepts would answer it ---- */

/* A request answered from an idle callback: libpurple registers the request only after the
 * UI op returns, so an answer given inside the op would race its bookkeeping. */
struct answer {
	PurpleRequestType type;
	GCallback cb;
	void *user_data;
	int choice;
	char *text;
	PurpleRequestFields *fields;
	guint source;
	gboolean firing, closed;
};

static void answer_free(struct answer *a)
{
	if (a->fields)
		purple_request_fields_destroy(a->fields);
	g_free(a->text);
	g_free(a);
}

static gboolean answer_fire(gpointer data)
{
	struct answer *a = data;

	a->source = 0;
	a->firing = TRUE;
	switch (a->type) {
	case PURPLE_REQUEST_ACTION:
	case PURPLE_REQUEST_CHOICE:
		if (a->cb)
			((PurpleRequestActionCb)a->cb)(a->user_data, a->choice);
		break;
	case PURPLE_REQUEST_INPUT:
		if (a->cb)
			((PurpleRequestInputCb)a->cb)(a->user_data, a->text);
		break;
	case PURPLE_REQUEST_FIELDS:
		if (a->cb)
			((PurpleRequestFieldsCb)a->cb)(a->user_data, a->fields);
		break;
	default:
		break;
	}
	a->firing = FALSE;
	/* The callback may have closed the request itself (purple_request_close_with_handle). */
	if (a->closed)
		answer_free(a);
	else
		purple_request_close(a->type, a);
	return FALSE;
}

static struct answer *answer_later(PurpleRequestType type, GCallback cb, void *user_data)
{
	struct answer *a = g_new0(struct answer, 1);

	a->type = type;
	a->cb = cb;
	a->user_data = user_data;
	a->source = g_idle_add(answer_fire, a);
	return a;
}

static void close_request(PurpleRequestType type, void *handle)
{
	struct answer *a = handle;

	(void)type;
	if (a->source)
		g_source_remove(a->source);
	a->source = 0;
	if (a->firing)
		a->closed = TRUE;
	else
		answer_free(a);
}

/* The label of an action that says yes ("_Accept", "Allow", ...), mnemonics ignored. */
static gboolean is_yes(const char *label)
{
	static const char *yes[] = { "accept", "allow", "authorize", "ok", "yes", "join" };
	char *plain = g_strdup(label ? label : "");
	char *w = plain;
	gboolean found = FALSE;

	for (const char *r = plain; *r; r++)
		if (*r != '_')
			*w++ = g_ascii_tolower(*r);
	*w = '\0';
	for (gsize i = 0; i < G_N_ELEMENTS(yes); i++)
		found = found || strcmp(plain, yes[i]) == 0;
	g_free(plain);
	return found;
}

/* libpurple's "tls_cached" certificate verifier asks here (purple_request_action, "Accept
 * certificate for %s?", actions Accept / Reject / View) when the server's certificate is
 * self-signed or its name does not match; without an answer the TLS connection would wait
 * for ever. The accepted certificate is cached in the private user directory. */
static void *request_action(const char *title, const char *primary, const char *secondary,
			    int default_action, PurpleAccount *acct, const char *who,
			    PurpleConversation *conv, void *user_data, size_t count,
			    va_list actions)
{
	int choice = -1, fallback = default_action;
	GCallback cb = NULL, fallback_cb = NULL;

	(void)acct, (void)who, (void)conv;
	for (size_t i = 0; i < count; i++) {
		const char *label = va_arg(actions, const char *);
		GCallback action = va_arg(actions, GCallback);

		if ((int)i == fallback)
			fallback_cb = action;
		if (choice < 0 && is_yes(label)) {
			choice = (int)i;
			cb = action;
		}
	}
	if (choice < 0) {
		choice = fallback;
		cb = fallback_cb;
	}
	if (debug)
		fprintf(stderr, "driver: request \"%s\" / %s / %s: action %d\n", title ? title : "",
			primary ? primary : "", secondary ? secondary : "", choice);
	struct answer *a = answer_later(PURPLE_REQUEST_ACTION, cb, user_data);
	a->choice = choice;
	return a;
}

static void *request_input(const char *title, const char *primary, const char *secondary,
			   const char *default_value, gboolean multiline, gboolean masked,
			   gchar *hint, const char *ok_text, GCallback ok_cb,
			   const char *cancel_text, GCallback cancel_cb, PurpleAccount *acct,
			   const char *who, PurpleConversation *conv, void *user_data)
{
	(void)title, (void)primary, (void)secondary, (void)multiline, (void)masked, (void)hint;
	(void)ok_text, (void)cancel_text, (void)cancel_cb, (void)acct, (void)who, (void)conv;
	struct answer *a = answer_later(PURPLE_REQUEST_INPUT, ok_cb, user_data);
	a->text = g_strdup(default_value ? default_value : "");
	return a;
}

static void *request_choice(const char *title, const char *primary, const char *secondary,
			    int default_value, const char *ok_text, GCallback ok_cb,
			    const char *cancel_text, GCallback cancel_cb, PurpleAccount *acct,
			    const char *who, PurpleConversation *conv, void *user_data,
			    va_list choices)
{
	(void)title, (void)primary, (void)secondary, (void)ok_text, (void)cancel_text;
	(void)cancel_cb, (void)acct, (void)who, (void)conv, (void)choices;
	struct answer *a = answer_later(PURPLE_REQUEST_CHOICE, ok_cb, user_data);
	a->choice = default_value;
	return a;
}

static void *request_fields(const char *title, const char *primary, const char *secondary,
			    PurpleRequestFields *fields, const char *ok_text, GCallback ok_cb,
			    const char *cancel_text, GCallback cancel_cb, PurpleAccount *acct,
			    const char *who, PurpleConversation *conv, void *user_data)
{
	(void)title, (void)primary, (void)secondary, (void)ok_text, (void)cancel_text;
	(void)cancel_cb, (void)acct, (void)who, (void)conv;
	struct answer *a = answer_later(PURPLE_REQUEST_FIELDS, ok_cb, user_data);
	a->fields = fields; /* the UI owns them from here and frees them on close */
	return a;
}

static PurpleRequestUiOps request_ops = {
	.request_input = request_input,
	.request_choice = request_choice,
	.request_action = request_action,
	.request_fields = request_fields,
	.close_request = close_request,
};

/* ---- notifications, conversations, the connection ---- */

static void *notify_message(PurpleNotifyMsgType type, const char *title, const char *primary,
			    const char *secondary)
{
	(void)type, (void)title;
	emit("NOTIFY", primary ? primary : "", secondary ? secondary : "");
	return NULL;
}

static PurpleNotifyUiOps notify_ops = {
	.notify_message = notify_message,
};

/* sipe reports undelivered messages and similar as error or system lines in the
 * conversation (purple_conv_present_error); incoming IMs come through the signal below. */
static void write_conv(PurpleConversation *conv, const char *name, const char *alias,
		       const char *message, PurpleMessageFlags flags, time_t mtime)
{
	(void)alias, (void)mtime;
	if (flags & (PURPLE_MESSAGE_ERROR | PURPLE_MESSAGE_SYSTEM)) {
		char *text = purple_markup_strip_html(message ? message : "");

		emit("NOTE", name ? name : purple_conversation_get_name(conv), text);
		g_free(text);
	}
}

static PurpleConversationUiOps conversation_ops = {
	.write_conv = write_conv,
};

static gboolean stop(gpointer data)
{
	(void)data;
	g_main_loop_quit(loop);
	return FALSE;
}

static void report_disconnect_reason(PurpleConnection *gc, PurpleConnectionError reason,
				     const char *text)
{
	char *code = g_strdup_printf("(purple reason %d)", reason);

	(void)gc;
	emit("ERROR", text ? text : "", code);
	g_free(code);
	exit_status = 1;
	/* libpurple disconnects the account from an idle callback; let it run, then stop. */
	g_timeout_add(200, stop, NULL);
}

static PurpleConnectionUiOps connection_ops = {
	.report_disconnect_reason = report_disconnect_reason,
};

static void signed_on(PurpleConnection *gc)
{
	(void)gc;
	emit("SIGNED-IN", NULL, NULL);
}

static void received_im(PurpleAccount *acct, const char *sender, const char *message,
			PurpleConversation *conv, PurpleMessageFlags flags)
{
	char *text = purple_markup_strip_html(message ? message : "");

	(void)acct, (void)conv, (void)flags;
	emit("IM", sender, text);
	g_free(text);
}

static void buddy_typing(PurpleAccount *acct, const char *name)
{
	(void)acct;
	emit("TYPING", name, NULL);
}

static void buddy_status_changed(PurpleBuddy *buddy, PurpleStatus *old, PurpleStatus *status)
{
	(void)old;
	emit("STATUS", purple_buddy_get_name(buddy), purple_status_get_id(status));
}

/* Coming online is "buddy-signed-on", not a status change. */
static void buddy_signed_on(PurpleBuddy *buddy)
{
	PurpleStatus *st = purple_presence_get_active_status(purple_buddy_get_presence(buddy));

	emit("STATUS", purple_buddy_get_name(buddy), st ? purple_status_get_id(st) : "available");
}

static void buddy_signed_off(PurpleBuddy *buddy)
{
	emit("STATUS", purple_buddy_get_name(buddy), "offline");
}

/* ---- conferences (chats): sipe's "New chat" makes one in OCS 2007 mode ---- */

/* The chat conversation commands go to: the one joined last. */
static PurpleConversation *current_chat;

static void chat_joined(PurpleConversation *conv)
{
	current_chat = conv;
	emit("CHAT-JOINED", purple_conversation_get_name(conv), NULL);
}

static void chat_buddy_joined(PurpleConversation *conv, const char *name, PurpleConvChatBuddyFlags flags,
			      gboolean new_arrival)
{
	(void)flags, (void)new_arrival;
	emit("CHAT-USER-JOINED", purple_conversation_get_name(conv), name);
}

static void chat_buddy_left(PurpleConversation *conv, const char *name, const char *reason)
{
	(void)reason;
	emit("CHAT-USER-LEFT", purple_conversation_get_name(conv), name);
}

static void received_chat(PurpleAccount *acct, char *sender, char *message, PurpleConversation *conv,
			  PurpleMessageFlags flags)
{
	char *text = purple_markup_strip_html(message ? message : "");
	char *who = g_strdup_printf("%s %s", purple_conversation_get_name(conv), sender);

	(void)acct, (void)flags;
	emit("CHAT", who, text);
	g_free(who);
	g_free(text);
}

static void conversation_gone(PurpleConversation *conv)
{
	if (conv == current_chat)
		current_chat = NULL;
}

/* The label without mnemonic underscores. */
static char *plain_label(const char *label)
{
	char *plain = g_strdup(label ? label : "");
	char *w = plain;

	for (const char *r = plain; *r; r++)
		if (*r != '_')
			*w++ = *r;
	*w = '\0';
	return plain;
}

/* Runs the first action of a menu (and its submenus) whose label starts with PREFIX; the
 * actions are what a user picks from the buddy's context menu. */
static gboolean run_menu(GList *menu, PurpleBlistNode *node, const char *prefix)
{
	gboolean done = FALSE;

	for (GList *l = menu; l && !done; l = l->next) {
		PurpleMenuAction *act = l->data;
		char *label;

		if (!act)
			continue;
		label = plain_label(act->label);
		if (act->callback && g_str_has_prefix(label, prefix)) {
			((void (*)(PurpleBlistNode *, gpointer))act->callback)(node, act->data);
			done = TRUE;
		} else if (act->children) {
			done = run_menu(act->children, node, prefix);
		}
		g_free(label);
	}
	return done;
}

static void buddy_action(const char *uri, const char *prefix)
{
	PurpleBuddy *b = purple_find_buddy(account, uri);
	GList *menu;

	if (!b) {
		fprintf(stderr, "driver: no buddy %s\n", uri);
		return;
	}
	/* The protocol's own entries (what Pidgin's buddy list puts in the context menu);
	 * purple_blist_node_get_extended_menu() has only the plugins' ones. */
	PurplePlugin *prpl = purple_find_prpl(purple_account_get_protocol_id(account));
	PurplePluginProtocolInfo *info = prpl ? PURPLE_PLUGIN_PROTOCOL_INFO(prpl) : NULL;

	menu = info && info->blist_node_menu ? info->blist_node_menu((PurpleBlistNode *)b) : NULL;
	if (!run_menu(menu, (PurpleBlistNode *)b, prefix))
		emit("NO-ACTION", uri, prefix);
	for (GList *l = menu; l; l = l->next)
		purple_menu_action_free(l->data);
	g_list_free(menu);
}

/* ---- commands on stdin ---- */

static PurpleGroup *group_named(const char *name, gboolean create)
{
	PurpleGroup *g = purple_find_group(name);

	if (!g && create) {
		g = purple_group_new(name);
		purple_blist_add_group(g, NULL);
	}
	return g;
}

static void add_buddy(const char *uri, const char *group)
{
	PurpleGroup *g = group_named(group, TRUE);
	PurpleBuddy *b = purple_find_buddy_in_group(account, uri, g);

	if (b)
		return;
	b = purple_buddy_new(account, uri, NULL);
	purple_blist_add_buddy(b, NULL, g, NULL);
	purple_account_add_buddy(account, b);
}

static void remove_buddy(const char *uri)
{
	GSList *all = purple_find_buddies(account, uri);

	for (GSList *l = all; l; l = l->next) {
		PurpleBuddy *b = l->data;

		purple_account_remove_buddy(account, b, purple_buddy_get_group(b));
		purple_blist_remove_buddy(b);
	}
	g_slist_free(all);
}

/* The account's status of that primitive, set directly (as a status menu does for one
 * account): a new transient saved status would race the saved statuses sipe itself activates
 * when the server's aggregated state comes back (sipe_backend_status_and_note). */
static void set_status(const char *what)
{
	PurpleStatusPrimitive p = PURPLE_STATUS_AVAILABLE;
	PurpleStatusType *type;

	if (strcmp(what, "away") == 0)
		p = PURPLE_STATUS_AWAY;
	else if (strcmp(what, "busy") == 0 || strcmp(what, "dnd") == 0)
		p = PURPLE_STATUS_UNAVAILABLE;
	type = purple_account_get_status_type_with_primitive(account, p);
	if (type)
		purple_account_set_status(account, purple_status_type_get_id(type), TRUE, NULL);
	else
		fprintf(stderr, "driver: no status of primitive %d\n", p);
}

/* Whether NAME is on the account's deny list (what sipe fills from the server's blocked
 * container; purple_privacy_check() would also weigh the account's privacy mode). */
static gboolean denied(const char *name)
{
	for (GSList *l = account->deny; l; l = l->next)
		if (g_ascii_strcasecmp(l->data, name) == 0)
			return TRUE;
	return FALSE;
}

/* GROUP lines for every group, BUDDY lines for this account's buddies, then LIST-END. */
static void list_buddies(void)
{
	for (PurpleBlistNode *g = purple_blist_get_root(); g; g = purple_blist_node_get_sibling_next(g)) {
		if (!PURPLE_BLIST_NODE_IS_GROUP(g))
			continue;
		emit("GROUP", purple_group_get_name(PURPLE_GROUP(g)), NULL);
	}
	GSList *all = purple_find_buddies(account, NULL);

	for (GSList *l = all; l; l = l->next) {
		PurpleBuddy *b = l->data;
		const char *name = purple_buddy_get_name(b);
		char *rest = g_strdup_printf("%s %s", purple_group_get_name(purple_buddy_get_group(b)),
					     denied(name) ? "blocked" : "allowed");

		emit("BUDDY", name, rest);
		g_free(rest);
	}
	g_slist_free(all);
	emit("LIST-END", NULL, NULL);
}

static void send_im(const char *to, const char *text)
{
	PurpleConversation *conv = purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM,
									  to, account);
	char *html = g_markup_escape_text(text, -1);

	if (!conv)
		conv = purple_conversation_new(PURPLE_CONV_TYPE_IM, account, to);
	purple_conv_im_send(PURPLE_CONV_IM(conv), html);
	g_free(html);
}

static void quit_soon(void)
{
	/* Disabling the account signs out (sipe unregisters); give that a moment to leave. */
	purple_account_set_enabled(account, UI_ID, FALSE);
	g_timeout_add(500, stop, NULL);
}

static gboolean stdin_ready(GIOChannel *ch, GIOCondition cond, gpointer data)
{
	char *line = NULL;
	gsize len = 0;
	GIOStatus st;

	(void)cond, (void)data;
	st = g_io_channel_read_line(ch, &line, &len, NULL, NULL);
	if (st == G_IO_STATUS_AGAIN)
		return TRUE;
	if (st != G_IO_STATUS_NORMAL) {
		quit_soon();
		return FALSE;
	}
	g_strchomp(line);
	if (g_str_has_prefix(line, "im ")) {
		char **parts = g_strsplit(line + 3, " ", 2);

		if (parts[0] && parts[1])
			send_im(parts[0], parts[1]);
		else
			fprintf(stderr, "driver: usage: im <to-uri> <text>\n");
		g_strfreev(parts);
	} else if (g_str_has_prefix(line, "typing ")) {
		PurpleConnection *gc = purple_account_get_connection(account);

		if (gc)
			serv_send_typing(gc, line + 7, PURPLE_TYPING);
	} else if (g_str_has_prefix(line, "add ")) {
		char **parts = g_strsplit(line + 4, " ", 2);

		if (parts[0] && parts[1])
			add_buddy(parts[0], parts[1]);
		g_strfreev(parts);
	} else if (g_str_has_prefix(line, "remove ")) {
		remove_buddy(line + 7);
	} else if (g_str_has_prefix(line, "rename-group ")) {
		char **parts = g_strsplit(line + 13, " ", 2);
		PurpleGroup *g = parts[0] ? group_named(parts[0], FALSE) : NULL;

		if (g && parts[1])
			purple_blist_rename_group(g, parts[1]);
		g_strfreev(parts);
	} else if (g_str_has_prefix(line, "delete-group ")) {
		PurpleGroup *g = group_named(line + 13, FALSE);

		if (g)
			purple_blist_remove_group(g);
	} else if (g_str_has_prefix(line, "status ")) {
		set_status(line + 7);
	} else if (g_str_has_prefix(line, "block ")) {
		purple_privacy_deny_add(account, line + 6, FALSE);
	} else if (g_str_has_prefix(line, "unblock ")) {
		purple_privacy_deny_remove(account, line + 8, FALSE);
	} else if (g_str_has_prefix(line, "buddy-action ")) {
		char **parts = g_strsplit(line + 13, " ", 2);

		if (parts[0] && parts[1])
			buddy_action(parts[0], parts[1]);
		g_strfreev(parts);
	} else if (g_str_has_prefix(line, "chat ")) {
		if (current_chat) {
			char *html = g_markup_escape_text(line + 5, -1);

			purple_conv_chat_send(PURPLE_CONV_CHAT(current_chat), html);
			g_free(html);
		} else {
			emit("NO-CHAT", NULL, NULL);
		}
	} else if (strcmp(line, "chat-leave") == 0) {
		/* What closing the chat window does (sipe leaves the conference). */
		if (current_chat)
			purple_conversation_destroy(current_chat);
		else
			emit("NO-CHAT", NULL, NULL);
	} else if (strcmp(line, "list") == 0) {
		list_buddies();
	} else if (strcmp(line, "quit") == 0) {
		g_free(line);
		quit_soon();
		return FALSE;
	} else if (*line) {
		fprintf(stderr, "driver: unknown command: %s\n", line);
	}
	g_free(line);
	return TRUE;
}

/* ---- core ---- */

/* Runs before the network subsystem sets its defaults: turn off UPnP, NAT-PMP and STUN, which
 * would otherwise send discovery packets to the LAN's gateway and multicast group, and give
 * the loopback address as ours. */
static void ui_prefs_init(void)
{
	purple_prefs_add_none("/purple/network");
	purple_prefs_add_bool("/purple/network/auto_ip", FALSE);
	purple_prefs_add_string("/purple/network/public_ip", "127.0.0.1");
	purple_prefs_add_bool("/purple/network/map_ports", FALSE);
	purple_prefs_add_string("/purple/network/stun_server", "");
}

static void ui_init(void)
{
	purple_request_set_ui_ops(&request_ops);
	purple_notify_set_ui_ops(&notify_ops);
	purple_conversations_set_ui_ops(&conversation_ops);
	purple_connections_set_ui_ops(&connection_ops);
}

static PurpleCoreUiOps core_ops = {
	.ui_prefs_init = ui_prefs_init,
	.ui_init = ui_init,
};

/* Removes a directory and everything below it (the private user directory). */
static void remove_tree(const char *path)
{
	GDir *dir = g_dir_open(path, 0, NULL);
	const char *name;

	while (dir && (name = g_dir_read_name(dir))) {
		char *child = g_build_filename(path, name, NULL);

		if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
			remove_tree(child);
		else
			g_unlink(child);
		g_free(child);
	}
	if (dir)
		g_dir_close(dir);
	g_rmdir(path);
}

/* CONTOSO\alice from alice@contoso.com for NTLM; the address itself for Kerberos. */
static char *default_login(const char *address, const char *auth)
{
	const char *at = strchr(address, '@');
	char *user, *domain, *dot, *login;

	if (!at || strcmp(auth, "krb5") == 0)
		return g_strdup(address);
	user = g_strndup(address, at - address);
	domain = g_ascii_strup(at + 1, -1);
	if ((dot = strchr(domain, '.')))
		*dot = '\0';
	login = g_strdup_printf("%s\\%s", domain, user);
	g_free(user);
	g_free(domain);
	return login;
}

int main(int argc, char **argv)
{
	static int handle;
	char *user_dir, *login, *username;
	GIOChannel *in;

	if (argc < 6 || argc > 7 ||
	    (strcmp(argv[4], "tls") != 0 && strcmp(argv[4], "tcp") != 0) ||
	    (strcmp(argv[5], "ntlm") != 0 && strcmp(argv[5], "krb5") != 0)) {
		fprintf(stderr, "usage: %s ACCOUNT PASSWORD HOST:PORT tls|tcp ntlm|krb5 [LOGIN]\n",
			argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	debug = g_strcmp0(g_getenv("PURPLE_DEBUG"), "1") == 0;

	user_dir = g_dir_make_tmp("ocs-sipe-driver-XXXXXX", NULL);
	if (!user_dir) {
		perror("driver: temporary user directory");
		return 2;
	}
	/* accounts.xml, prefs.xml and the certificate cache of this run go there, and nothing
	 * of a real ~/.purple is read. */
	purple_util_set_user_dir(user_dir);

	loop = g_main_loop_new(NULL, FALSE);
	purple_debug_set_ui_ops(&debug_ops);
	/* sipe logs only when one of these is on; "enabled" itself would also copy every line
	 * to stdout with g_print, so it stays off and the UI op prints to stderr. */
	purple_debug_set_verbose(debug);
	purple_debug_set_unsafe(debug);
	purple_core_set_ui_ops(&core_ops);
	purple_eventloop_set_ui_ops(&eventloop_ops);
	if (!purple_core_init(UI_ID)) {
		emit("ERROR", "libpurple did not initialise", NULL);
		exit_status = 1;
		goto out;
	}
	/* sipe seeds rand() with time(NULL) when it loads (sipe_core_init, sipe-core.c:167) and
	 * draws Call-IDs, tags and NTLM client challenges from it: clients started within the
	 * same second would share them, and sipe matches a response to the wrong session when
	 * its Call-ID equals that of a dialog opened by the peer. Reseed from GLib's generator
	 * (seeded from /dev/urandom). */
	srand(g_random_int());
	purple_set_blist(purple_blist_new());
	if (!purple_find_prpl("prpl-sipe")) {
		emit("ERROR", "prpl-sipe not found (Debian package pidgin-sipe)", NULL);
		exit_status = 1;
		goto quit;
	}

	purple_signal_connect(purple_connections_get_handle(), "signed-on", &handle,
			      PURPLE_CALLBACK(signed_on), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "received-im-msg", &handle,
			      PURPLE_CALLBACK(received_im), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "buddy-typing", &handle,
			      PURPLE_CALLBACK(buddy_typing), NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-status-changed", &handle,
			      PURPLE_CALLBACK(buddy_status_changed), NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-signed-on", &handle,
			      PURPLE_CALLBACK(buddy_signed_on), NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-signed-off", &handle,
			      PURPLE_CALLBACK(buddy_signed_off), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "chat-joined", &handle,
			      PURPLE_CALLBACK(chat_joined), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "chat-buddy-joined", &handle,
			      PURPLE_CALLBACK(chat_buddy_joined), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "chat-buddy-left", &handle,
			      PURPLE_CALLBACK(chat_buddy_left), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "received-chat-msg", &handle,
			      PURPLE_CALLBACK(received_chat), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "deleting-conversation", &handle,
			      PURPLE_CALLBACK(conversation_gone), NULL);

	/* sipe's user name is "<sip address>,<login>" (its account user split). */
	login = argc == 7 ? g_strdup(argv[6]) : default_login(argv[1], argv[5]);
	username = g_strdup_printf("%s,%s", argv[1], login);
	account = purple_account_new(username, "prpl-sipe");
	purple_account_set_password(account, argv[2]);
	purple_account_set_remember_password(account, FALSE);
	purple_account_set_string(account, "server", argv[3]);
	purple_account_set_string(account, "transport", argv[4]);
	purple_account_set_string(account, "authentication", argv[5]);
	/* No calendar publishing: it would start EWS autodiscovery (DNS and HTTPS towards the
	 * account's real domain). */
	purple_account_set_bool(account, "dont-publish", TRUE);
	purple_accounts_add(account);

	purple_savedstatus_activate(purple_savedstatus_new(NULL, PURPLE_STATUS_AVAILABLE));
	purple_account_set_enabled(account, UI_ID, TRUE);

	in = g_io_channel_unix_new(0);
	g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, stdin_ready, NULL);
	g_io_channel_unref(in);

	g_main_loop_run(loop);
	g_free(username);
	g_free(login);
quit:
	purple_core_quit();
out:
	/* The certificate cache and anything else libpurple wrote there. */
	if (!g_getenv("OCS_KEEP_PURPLE_DIR"))
		remove_tree(user_dir);
	g_free(user_dir);
	return exit_status;
}
