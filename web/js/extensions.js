// Extension points for message actions (replies, reactions, edits, deletes: DESIGN §10,
// docs/realtime.md). Nothing here implements them; a feature module registers:
//
//   messageActions.push({label: 'Reply', available: (store, chat, msg) => true,
//                        run: (store, chat, msg, ui) => ui.setReplyTo(msg)});
//   messageDecorators.push((store, chat, msg, bubble) => bubble.append(reactionsRow(msg)));
//   frameHandlers.set('RCT', (store, d) => {            // store.js; d.c is the chat id
//     const chat = store.chatById(d.c); …; store.emit('messages', chat.key); });
//   composerExtras.push((chat) => ({rp: replyToId}));  // merged into the MSG frame
//
// The conversation view shows an actions button on a message only when an action applies,
// calls every decorator on each message it draws, and merges every composer extra into sends.

/** Actions offered on a message: {label, available(store, chat, msg), run(store, chat, msg, ui)}. */
export const messageActions = [];

/** Called for each message bubble drawn: (store, chat, msg, bubbleElement) => void. */
export const messageDecorators = [];

/** Called on send: (chat) => extra MSG frame fields (e.g. {rp: messageId}); merged in order. */
export const composerExtras = [];
