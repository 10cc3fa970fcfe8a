// Media: thumbnails made in the browser, uploads through presigned PUTs, download URLs.
// (docs/media.md: POST /api/media → PUT the bytes with exactly the returned headers → send
// {type, mediaId, caption?, thumbnail?}; GET /api/media/:id for a 5-minute download URL.)

/** The server's allowlist (docs/media.md), by kind. */
export const KINDS = {
  image: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'],
  audio: ['audio/mpeg', 'audio/ogg', 'audio/mp4', 'audio/aac'],
  video: ['video/mp4', 'video/webm', 'video/3gpp'],
  document: [
    'application/pdf',
    'application/zip',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  ],
};

export const ACCEPT = Object.values(KINDS).flat().join(',');

export function kindOf(contentType) {
  for (const [kind, types] of Object.entries(KINDS)) if (types.includes(contentType)) return kind;
  return null;
}

/** The server's limit on a thumbnail: base64, at most 8 KB. */
const THUMB_MAX = 8000;

/** A JPEG thumbnail of an image as base64 (≤ 8 KB), or null when the browser cannot decode it. */
export async function thumbnail(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return null;
  }
  for (const [edge, quality] of [[160, 0.7], [120, 0.6], [96, 0.5], [64, 0.5], [48, 0.4]]) {
    const scale = Math.min(1, edge / Math.max(bitmap.width, bitmap.height));
    const w = Math.max(1, Math.round(bitmap.width * scale));
    const h = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    canvas.getContext('2d').drawImage(bitmap, 0, 0, w, h);
    const b64 = canvas.toDataURL('image/jpeg', quality).split(',')[1];
    if (b64.length <= THUMB_MAX) return b64;
  }
  return null;
}

/**
 * Locally the upload and download URLs are the gateway's own (`/_local/blobs/…` on
 * 127.0.0.1): served from another loopback name (localhost), use this page's origin so the
 * request stays same-origin. S3's URLs are left alone.
 */
export function sameOrigin(url) {
  const u = new URL(url, location.href);
  const loopback = ['127.0.0.1', 'localhost', '[::1]'];
  if (u.pathname.startsWith('/_local/blobs/') && loopback.includes(u.hostname) && loopback.includes(location.hostname)) {
    return location.origin + u.pathname + u.search;
  }
  return u.href;
}

/** Uploads a file; resolves to {mediaId, kind, thumbnail}. */
export async function upload(api, file) {
  const kind = kindOf(file.type);
  if (!kind) throw new Error(`${file.type || 'This file type'} cannot be sent`);
  const ticket = await api.post('/api/media', {
    contentType: file.type,
    size: file.size,
    fileName: file.name,
  });
  const res = await fetch(sameOrigin(ticket.uploadUrl), {
    method: ticket.method || 'PUT',
    // Content-Length is the browser's to set (from the body); Content-Type must match.
    headers: { 'Content-Type': ticket.headers?.['Content-Type'] ?? file.type },
    body: file,
  });
  if (!res.ok) throw new Error(`upload failed (HTTP ${res.status})`);
  const thumb = kind === 'image' ? await thumbnail(file) : null;
  return { mediaId: ticket.mediaId, kind, thumbnail: thumb };
}

const urls = new Map();

/** A download URL for a media id (cached for most of its 5-minute life). */
export async function downloadUrl(api, mediaId) {
  const hit = urls.get(mediaId);
  if (hit && hit.until > Date.now()) return hit;
  const r = await api.get(`/api/media/${mediaId}`);
  const entry = { ...r, url: sameOrigin(r.url), until: Date.now() + Math.max(30, (r.expiresIn ?? 300) - 30) * 1000 };
  urls.set(mediaId, entry);
  return entry;
}
