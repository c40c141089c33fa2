#!/usr/bin/env node
// A reference Node socket.io 4 server for bench/socket_load.sh: the same
// Socket.IO contract for the one path the load test drives (connect with a
// token, `dm:send_message` with an ack, `dm:message_received` to both
// members), the same MySQL schema, and the same queries per send as
// Samvad's `Core::send_message`, so the same load generator drives both and
// the comparison is of the servers, not of the work.
//
// Per connection: the HS256 access token is verified (same secret), its
// session row is read (joined with tenant and participant, like Samvad's
// liveness check; cached 30 s), and the socket joins `user:{participant}`
// and its conversations' rooms. Samvad does more at connect (presence,
// catch-up), which this leaves out: the benchmark measures sends.
//
// Per `dm:send_message {conversationId, content, clientMsgId}`:
//   SELECT by clientMsgId (a retry returns the first message)
//   SELECT the conversation, SELECT the sender's membership
//   BEGIN; SELECT the members; SELECT whether either blocked the other;
//   UPDATE conversations SET last_seq = last_seq + 1, last message ...;
//   SELECT last_seq; INSERT the message; UPDATE the sender's cursors; COMMIT
// then `dm:message_received` to every member's `user:` room, and the ack
// `{success: true, data: message}`.
//
//   PORT=8090 DATABASE_URL=mysql://root@127.0.0.1:3306/samvad_bench \
//   SAMVAD_JWT_SECRET=... node bench/node-ref/server.mjs
//
// Environment: PORT (8090), HOST (127.0.0.1), DATABASE_URL, SAMVAD_JWT_SECRET,
// DB_POOL (20, Samvad's default pool size).

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import mysql from "mysql2/promise";
import { Server } from "socket.io";

const PORT = Number(process.env.PORT ?? 8090);
const HOST = process.env.HOST ?? "127.0.0.1";
const SECRET = process.env.SAMVAD_JWT_SECRET;
const DATABASE_URL = process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/samvad_bench";
const POOL = Number(process.env.DB_POOL ?? 20);
const SESSION_TTL_MS = 30_000;
const MAX_CHARS = 4000;

if (!SECRET) {
  console.error("SAMVAD_JWT_SECRET is required (the secret the tokens were signed with)");
  process.exit(2);
}

const url = new URL(DATABASE_URL);
const pool = mysql.createPool({
  host: url.hostname,
  port: Number(url.port || 3306),
  user: decodeURIComponent(url.username || "root"),
  password: decodeURIComponent(url.password || ""),
  database: url.pathname.replace(/^\//, ""),
  connectionLimit: POOL,
  timezone: "Z",
  charset: "utf8mb4",
  dateStrings: false,
});

// ---------------------------------------------------------------- ids

const bin = (uuid) => Buffer.from(uuid.replace(/-/g, ""), "hex");
const str = (buf) => {
  const h = buf.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// UUIDv7, like Samvad's message ids (time-ordered, so index inserts append).
function uuidv7() {
  const b = randomBytes(16);
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  return b;
}

// ---------------------------------------------------------------- auth

function verifyJwt(token) {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error("invalid_token: malformed");
  const expected = createHmac("sha256", SECRET).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new Error("invalid_token: bad signature");
  }
  const header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
  if (header.alg !== "HS256") throw new Error("invalid_token: not HS256");
  const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  if (typeof claims.exp !== "number" || claims.exp + 5 < Date.now() / 1000) {
    throw new Error("token_expired: access token has expired");
  }
  return claims;
}

const sessions = new Map(); // sid -> { at, live }
async function sessionLive(claims) {
  const hit = sessions.get(claims.sid);
  if (hit && Date.now() - hit.at < SESSION_TTL_MS) return hit.live;
  const [rows] = await pool.execute(
    `SELECT s.tenant_id, s.subject_id, s.role, s.expires_at, s.revoked_at,
            t.status AS tenant_status, p.blocked
     FROM sessions s
     LEFT JOIN tenants t ON t.id = s.tenant_id
     LEFT JOIN participants p ON p.tenant_id = s.tenant_id AND p.id = s.subject_id
     WHERE s.id = ?`,
    [bin(claims.sid)],
  );
  const row = rows[0];
  const live =
    !!row &&
    row.revoked_at === null &&
    row.expires_at > new Date() &&
    row.tenant_status !== "suspended" &&
    !row.blocked &&
    str(row.subject_id) === claims.sub &&
    row.tenant_id !== null &&
    str(row.tenant_id) === claims.tid;
  sessions.set(claims.sid, { at: Date.now(), live });
  return live;
}

// ---------------------------------------------------------------- sending

class Refusal extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
const envelope = (err) => {
  const code = err instanceof Refusal ? err.code : "internal";
  const message = err instanceof Refusal ? err.message : "internal error";
  return { success: false, error: { code, message }, message };
};

function payload(m) {
  return {
    id: str(m.id),
    seq: m.seq,
    conversationId: str(m.conversationId),
    conversation: str(m.conversationId),
    senderId: str(m.senderId),
    sender: str(m.senderId),
    from: str(m.senderId),
    senderType: m.senderType,
    type: "text",
    messageType: "text",
    content: m.content,
    text: m.content,
    mediaUrl: null,
    metadata: null,
    replyTo: null,
    forwardedFrom: null,
    clientMsgId: m.clientMsgId,
    createdAt: m.createdAt.toISOString(),
    reactions: [],
    status: "sent",
  };
}

async function send(me, data) {
  if (typeof data !== "object" || data === null) throw new Refusal("validation_failed", "the payload must be a JSON object");
  const conversationId = data.conversationId ?? data.conversation;
  const content = data.content ?? data.text;
  const clientMsgId = data.clientMsgId ?? null;
  if (typeof conversationId !== "string" || !UUID.test(conversationId)) throw new Refusal("validation_failed", "give conversationId");
  if (typeof content !== "string" || content.trim() === "" || [...content].length > MAX_CHARS) {
    throw new Refusal("validation_failed", "content must be 1-4000 characters");
  }
  const tenant = bin(me.tid);
  const sender = bin(me.sub);
  const conv = bin(conversationId);

  if (clientMsgId !== null) {
    const [found] = await pool.execute(
      "SELECT conversation_id, seq, id, created_at FROM messages WHERE tenant_id = ? AND sender_id = ? AND client_msg_id = ?",
      [tenant, sender, clientMsgId],
    );
    if (found.length) {
      const f = found[0];
      return { id: f.id, seq: f.seq, conversationId: f.conversation_id, senderId: sender, senderType: me.role, content, clientMsgId, createdAt: f.created_at, members: null };
    }
  }
  const [convs] = await pool.execute("SELECT is_active, type FROM conversations WHERE tenant_id = ? AND id = ?", [tenant, conv]);
  const [mine] = await pool.execute(
    "SELECT left_at FROM conversation_members WHERE tenant_id = ? AND conversation_id = ? AND participant_id = ?",
    [tenant, conv, sender],
  );
  if (!convs.length || !mine.length || mine[0].left_at !== null) throw new Refusal("not_found", "conversation not found");
  if (!convs[0].is_active) throw new Refusal("conversation_closed", "this conversation is closed");

  const db = await pool.getConnection();
  try {
    await db.beginTransaction();
    const [members] = await db.execute(
      "SELECT participant_id FROM conversation_members WHERE tenant_id = ? AND conversation_id = ? AND left_at IS NULL",
      [tenant, conv],
    );
    const other = members.map((r) => r.participant_id).find((p) => !p.equals(sender));
    if (convs[0].type !== "group" && other) {
      const [[b]] = await db.execute(
        `SELECT EXISTS (SELECT 1 FROM blocks WHERE tenant_id = ?
           AND ((blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?))) AS blocked`,
        [tenant, sender, other, other, sender],
      );
      if (Number(b.blocked)) throw new Refusal("blocked", "one of you has blocked the other");
    }
    const id = uuidv7();
    const now = new Date();
    const preview = content.slice(0, 200);
    await db.execute(
      `UPDATE conversations SET last_seq = last_seq + 1, last_message_id = ?, last_message_at = ?,
              last_message_sender = ?, last_message_type = ?, last_message_preview = ?,
              activity_at = ?, updated_at = ?
       WHERE tenant_id = ? AND id = ?`,
      [id, now, sender, "text", preview, now, now, tenant, conv],
    );
    const [[{ last_seq: seq }]] = await db.execute("SELECT last_seq FROM conversations WHERE tenant_id = ? AND id = ?", [tenant, conv]);
    await db.execute(
      `INSERT INTO messages (tenant_id, conversation_id, seq, id, sender_id, type, content, media_url, metadata,
                             reply_to_id, forwarded_from_id, client_msg_id, created_at)
       VALUES (?, ?, ?, ?, ?, 'text', ?, NULL, NULL, NULL, NULL, ?, ?)`,
      [tenant, conv, seq, id, sender, content, clientMsgId, now],
    );
    await db.execute(
      `UPDATE conversation_members m
       JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
       SET m.read_seq = GREATEST(m.read_seq, LEAST(?, c.last_seq)),
           m.delivered_seq = GREATEST(m.delivered_seq, LEAST(GREATEST(?, ?), c.last_seq))
       WHERE m.tenant_id = ? AND m.conversation_id = ? AND m.participant_id = ?`,
      [seq, seq, seq, tenant, conv, sender],
    );
    await db.commit();
    return {
      id,
      seq: Number(seq),
      conversationId: conv,
      senderId: sender,
      senderType: me.role,
      content,
      clientMsgId,
      createdAt: now,
      members: members.map((r) => str(r.participant_id)),
    };
  } catch (err) {
    await db.rollback().catch(() => {});
    throw err;
  } finally {
    db.release();
  }
}

// ---------------------------------------------------------------- server

const http = createServer((req, res) => {
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"success":true,"data":{"status":"ok"}}');
    return;
  }
  res.writeHead(404).end();
});
const io = new Server(http, { serveClient: false, cors: { origin: "*" } });

io.use(async (socket, next) => {
  try {
    const raw = socket.handshake.auth?.token ?? socket.handshake.query?.token;
    if (!raw) return next(new Error("unauthorized: send the access token as auth.token"));
    const claims = verifyJwt(String(raw).replace(/^Bearer\s+/, "").trim());
    if (!claims.tid) return next(new Error("unauthorized: not a participant"));
    if (!(await sessionLive(claims))) return next(new Error("session_revoked: the session has ended"));
    socket.data.me = claims;
    next();
  } catch (err) {
    next(new Error(err.message.includes(":") ? err.message : `invalid_token: ${err.message}`));
  }
});

io.on("connection", async (socket) => {
  const me = socket.data.me;
  socket.join(`user:${me.sub}`);
  socket.on("dm:send_message", async (data, ack) => {
    try {
      const m = await send(me, data);
      const body = payload(m);
      if (m.members) io.to(m.members.map((p) => `user:${p}`)).emit("dm:message_received", body);
      if (typeof ack === "function") ack({ success: true, data: body });
    } catch (err) {
      if (!(err instanceof Refusal)) console.error("send failed:", err);
      if (typeof ack === "function") ack(envelope(err));
      else socket.emit("dm:error", { ...envelope(err), event: "dm:send_message" });
    }
  });
  try {
    const [rows] = await pool.execute(
      "SELECT conversation_id FROM conversation_members WHERE tenant_id = ? AND participant_id = ? AND left_at IS NULL",
      [bin(me.tid), bin(me.sub)],
    );
    socket.join(rows.map((r) => `conversation:${str(r.conversation_id)}`));
  } catch (err) {
    console.error("joining conversation rooms failed:", err);
  }
});

http.listen(PORT, HOST, () => console.log(`node-ref listening on http://${HOST}:${PORT}`));
const stop = () => {
  io.close();
  pool.end().finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
