// A reference service worker for Herald's Web Push (docs/notifications.md, "Push"): it shows
// each push, tells Herald it was shown (`delivered`), and when the notification is clicked,
// opens its deep link and tells Herald it was read. Copy it to your site as /sw.js and register
// it with navigator.serviceWorker.register("/sw.js"); subscribe with the key from
// GET {HERALD}/api/v1/push/vapid-public-key and POST the subscription to
// {HERALD}/api/v1/native/subscribe with the user's token.
//
// The receipts need no user session: each push carries a credential for its one notification.

const HERALD = "https://herald.example.com"; // your Herald's base URL
// Where a notification may lead: any user may send any other a notification, so its link is
// only followed to these origins (your site's own, and any you add); anything else opens the site.
const LINK_ORIGINS = [self.location.origin];

function receipt(credential, state) {
  // text/plain: a "simple" request, so it needs no CORS preflight (and no ALLOWED_ORIGINS entry);
  // the credential in the body is the whole authority. Herald reads the body as JSON.
  return fetch(`${HERALD}/api/v1/receipts`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: JSON.stringify({ receipt: credential, state }),
  }).catch(() => {}); // a lost receipt only means a later step may still go out
}

function safeLink(url) {
  try {
    const link = new URL(url, self.location.origin);
    return LINK_ORIGINS.includes(link.origin) ? link.href : self.location.origin;
  } catch {
    return self.location.origin;
  }
}

// Whose notification it is: the receipt credential's third field (the user id, base64url).
// Seqs count in each user's inbox, so a browser that two accounts used compares them per user.
const ownerOf = (credential) => credential?.split(".")[2];

// Every notification of this push's user up to `lastRead` was read on another device: what is
// still shown of them goes. (A browser must show something for every push, so Herald sends no
// push of its own for a read; each push says how far the user read.)
async function clearRead(push) {
  if (!push.last_read) return;
  const shown = await self.registration.getNotifications();
  for (const notification of shown) {
    const { seq, receipt: credential } = notification.data ?? {};
    if (ownerOf(credential) === ownerOf(push.receipt) && seq <= push.last_read) notification.close();
  }
}

self.addEventListener("push", (event) => {
  if (!event.data) return;
  // {title?, body, url?, data?, id, seq, tag, urgency, receipt, truncated?, last_read?}
  const push = event.data.json();
  const shown = self.registration.showNotification(push.title ?? "New notification", {
    body: push.body,
    tag: push.tag, // a retried push replaces this one instead of stacking beside it
    data: { url: push.url, receipt: push.receipt, seq: push.seq, truncated: push.truncated === true },
    requireInteraction: push.urgency === 4,
  });
  event.waitUntil(shown.then(() => Promise.all([receipt(push.receipt, "delivered"), clearRead(push)])));
});

self.addEventListener("notificationclick", (event) => {
  const { url, receipt: credential } = event.notification.data ?? {};
  event.notification.close();
  const opened = self.clients.openWindow(url ? safeLink(url) : self.location.origin);
  event.waitUntil(Promise.all([opened, credential ? receipt(credential, "read") : null]));
});
