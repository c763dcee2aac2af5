// Passkeys in the browser: sign-in, registration, recovery codes, devices.
// Hand-written ES module, loaded by the identity pages; no inline script, no dependency.

const $ = (id) => document.getElementById(id);
const say = (text) => { const s = $("status"); if (s) s.textContent = text; };
const fr = document.documentElement.lang !== "en";

function toBytes(b64url) {
  const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((b64url.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function toB64url(buffer) {
  let text = "";
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function call(method, url, body) {
  const response = await fetch(url, {
    method, credentials: "same-origin",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) { const error = new Error(data?.detail || response.statusText); error.code = data?.code; throw error; }
  return data;
}

function credentialJSON(credential) {
  const r = credential.response;
  const out = { id: credential.id, rawId: toB64url(credential.rawId), type: credential.type,
                clientExtensionResults: credential.getClientExtensionResults(), response: {} };
  out.response.clientDataJSON = toB64url(r.clientDataJSON);
  if (r.attestationObject) {
    out.response.attestationObject = toB64url(r.attestationObject);
    out.response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    out.response.authenticatorData = toB64url(r.authenticatorData);
    out.response.signature = toB64url(r.signature);
    if (r.userHandle) out.response.userHandle = toB64url(r.userHandle);
  }
  return out;
}

async function signIn() {
  say(fr ? "Touchez votre clé d'accès…" : "Use your passkey…");
  try {
    const { challenge_id, options } = await call("POST", "/api/v1/auth/passkey/login/options", {});
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
    const credential = await navigator.credentials.get({ publicKey: options });
    await call("POST", "/auth/passkey/session", { challenge_id, credential: credentialJSON(credential) });
    say(fr ? "Connexion réussie." : "Signed in.");
    window.location.assign("/compte/securite");
  } catch (error) {
    say((fr ? "Échec de la connexion : " : "Sign-in failed: ") + error.message);
  }
}

async function withReauth(action) {
  try { return await action(); } catch (error) {
    if (error.code !== "reauthentication_required") throw error;
    const form = $("reauth");
    form.hidden = false;
    $("reauth-password").focus();
    await new Promise((resolve, reject) => {
      $("reauth-passkey").onclick = async () => {
        try {
          const { challenge_id, options } = await call("POST", "/api/v1/auth/passkey/reauth/options", {});
          options.challenge = toBytes(options.challenge);
          (options.allowCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
          const credential = await navigator.credentials.get({ publicKey: options });
          await call("POST", "/api/v1/auth/passkey/reauth", { challenge_id, credential: credentialJSON(credential) });
          form.hidden = true; resolve();
        } catch (e) { say(e.message); reject(e); }
      };
      form.onsubmit = async (event) => {
        event.preventDefault();
        try {
          await call("POST", "/api/v1/auth/reauthenticate",
                     { password: $("reauth-password").value, otp: $("reauth-otp").value });
          form.hidden = true; form.reset(); resolve();
        } catch (e) { say(e.message); reject(e); }
      };
    });
    return await action();
  }
}

async function addPasskey(event) {
  event.preventDefault();
  const name = $("passkey-name").value;
  try {
    const { challenge_id, options } = await withReauth(() => call("POST", "/api/v1/auth/passkeys/options", {}));
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
    const credential = await navigator.credentials.create({ publicKey: options });
    await call("POST", "/api/v1/auth/passkeys", { challenge_id, name, credential: credentialJSON(credential) });
    $("passkey-name").value = "";
    say(fr ? "Clé d'accès enregistrée." : "Passkey registered.");
    await listPasskeys();
  } catch (error) {
    say((fr ? "Enregistrement impossible : " : "Could not register: ") + error.message);
  }
}

function button(label, onclick) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = label; b.addEventListener("click", onclick);
  return b;
}

async function listPasskeys() {
  const list = $("passkey-list");
  list.replaceChildren();
  for (const key of await call("GET", "/api/v1/auth/passkeys")) {
    const item = document.createElement("li");
    const used = key.last_used_at ? new Date(key.last_used_at).toLocaleString(fr ? "fr-FR" : "en-GB",
      { dateStyle: "long", timeStyle: "short", timeZone: "Europe/Paris" }) : (fr ? "jamais" : "never");
    item.textContent = `${key.name} — ${fr ? "dernière utilisation" : "last used"} : ${used} `;
    item.append(button(fr ? `Révoquer ${key.name}` : `Revoke ${key.name}`, async () => {
      await call("DELETE", `/api/v1/auth/passkeys/${key.id}`); await listPasskeys();
    }));
    list.append(item);
  }
}

async function newCodes() {
  try {
    const { codes } = await withReauth(() => call("POST", "/api/v1/auth/recovery-codes", {}));
    const list = $("codes");
    list.replaceChildren(...codes.map((c) => { const li = document.createElement("li"); li.textContent = c; return li; }));
    say(fr ? "Notez ces codes maintenant : ils ne seront plus affichés." : "Write these codes down now: they will not be shown again.");
  } catch (error) { say(error.message); }
}

async function signOutAll() {
  await call("POST", "/api/v1/auth/sessions/revoke-all", { keep_current: false });
  window.location.assign("/connexion/cle");
}

document.addEventListener("DOMContentLoaded", () => {
  $("passkey-sign-in")?.addEventListener("click", signIn);
  if ($("passkey-add")) {
    $("passkey-add").addEventListener("submit", addPasskey);
    $("codes-new").addEventListener("click", newCodes);
    $("sign-out-all").addEventListener("click", signOutAll);
    listPasskeys().catch((e) => say(e.message));
  }
});
