// Sign in with a phone number and a texted code; new numbers register a username.

import { h, mount } from './util.js';

/** Reads the code the local gateway "texted" (its dev-only SMS outbox); null anywhere else. */
async function localCode(api, phone) {
  try {
    const res = await fetch(`${api.base}/_local/sms?phoneNumber=${encodeURIComponent(phone)}`);
    if (!res.ok) return null;
    const texts = await res.json();
    const last = Array.isArray(texts) ? texts[texts.length - 1] : null;
    return last?.body?.match(/\b(\d{6})\b/)?.[1] ?? null;
  } catch {
    return null;
  }
}

function errorText(e) {
  if (e.network) return 'You are offline. Try again when you are connected.';
  if (e.code === 'otp_rate_limited') return `Too many codes. Try again in ${e.retryAfter ?? 60} s.`;
  return e.message || 'Something went wrong';
}

/** Shows the sign-in flow in `root`; resolves once signed in. */
export function signIn(root, api) {
  return new Promise((done) => {
    const error = h('p', { class: 'error', role: 'alert', id: 'auth-error' });
    /** A form's submit handler: clears the error, runs `step`, shows what went wrong. */
    const submit = (step) => async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      try {
        await step();
      } catch (e) {
        error.textContent = errorText(e);
      }
    };
    const card = h('section', { class: 'auth card', 'aria-labelledby': 'auth-title' });
    mount(root, h('main', { class: 'auth-page' }, card));

    const phoneStep = () => {
      const input = h('input', {
        id: 'phone',
        name: 'phone',
        type: 'tel',
        autocomplete: 'tel',
        required: true,
        placeholder: '+91 98909 99999',
        'aria-describedby': 'phone-help auth-error',
      });
      const form = h(
        'form',
        {
          onsubmit: submit(async () => {
            const r = await api.call('POST', '/api/auth/request-otp', { phoneNumber: input.value }, { auth: false });
            codeStep(r.data.phoneNumber);
          }),
        },
        h('label', { for: 'phone' }, 'Phone number'),
        input,
        h('p', { class: 'help', id: 'phone-help' }, 'We will text you a 6-digit code.'),
        h('button', { type: 'submit', class: 'primary' }, 'Send code'),
      );
      mount(card, h('h1', { id: 'auth-title' }, 'Sign in to WhatsPe'), form, error);
      input.focus();
    };

    const codeStep = (phone) => {
      const input = h('input', {
        id: 'code',
        name: 'code',
        inputmode: 'numeric',
        autocomplete: 'one-time-code',
        pattern: '[0-9]{6}',
        maxlength: 6,
        required: true,
        'aria-describedby': 'code-help auth-error',
      });
      const hint = h('p', { class: 'hint', role: 'status' });
      const form = h(
        'form',
        {
          onsubmit: submit(async () => {
            const body = { phoneNumber: phone, verificationCode: input.value };
            const r = await api.call('POST', '/api/auth/verify-otp', body, { auth: false });
            if (r.data.isNewUser) registerStep(r.data.registrationToken);
            else {
              api.setSession(r.data, r.data.user);
              done();
            }
          }),
        },
        h('label', { for: 'code' }, 'Code'),
        input,
        h('p', { class: 'help', id: 'code-help' }, `Sent to ${phone}.`),
        hint,
        h('button', { type: 'submit', class: 'primary' }, 'Verify'),
        h('button', { type: 'button', class: 'link', onclick: phoneStep }, 'Use another number'),
      );
      mount(card, h('h1', { id: 'auth-title' }, 'Enter the code'), form, error);
      input.focus();
      localCode(api, phone).then((code) => {
        if (!code) return;
        mount(
          hint,
          'Local gateway: the code is ',
          h('strong', { class: 'dev-code' }, code),
          ' ',
          h('button', { type: 'button', class: 'link', onclick: () => ((input.value = code), input.focus()) }, 'Use it'),
        );
      });
    };

    const registerStep = (registrationToken) => {
      const username = h('input', {
        id: 'username',
        name: 'username',
        autocomplete: 'username',
        required: true,
        minlength: 3,
        maxlength: 30,
        pattern: '[A-Za-z][A-Za-z0-9_.]{2,29}',
        'aria-describedby': 'username-help auth-error',
      });
      const email = h('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'email' });
      const form = h(
        'form',
        {
          onsubmit: submit(async () => {
            const body = { username: username.value };
            if (email.value) body.email = email.value;
            const r = await api.call('POST', '/api/auth/register', body, { token: registrationToken });
            const { accessToken, refreshToken, expiresIn, ...user } = r.data;
            api.setSession({ accessToken, refreshToken, expiresIn }, user);
            done();
          }),
        },
        h('label', { for: 'username' }, 'Username'),
        username,
        h('p', { class: 'help', id: 'username-help' }, '3–30 letters, digits, _ or ., starting with a letter.'),
        h('label', { for: 'email' }, 'E-mail (optional)'),
        email,
        h('button', { type: 'submit', class: 'primary' }, 'Create account'),
      );
      mount(card, h('h1', { id: 'auth-title' }, 'Create your account'), form, error);
      username.focus();
    };

    phoneStep();
  });
}
