/**
 * Small primitives of the authorization server: random tokens, hashes, PKCE, constant-time compare.
 *
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 256 random bits, base64url (43 chars): codes, refresh tokens, CSRF tokens, sign-in ids. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 of a secret, as stored (codes, refresh tokens, client secrets, browser ids). */
export function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** The RFC 7636 S256 challenge of a verifier. */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Equal strings, compared in constant time (by their hashes, so lengths leak nothing either). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** RFC 7636 §4.1: 43–128 unreserved characters. */
export const VERIFIER_RE = /^[A-Za-z0-9._~-]{43,128}$/;
/** An S256 challenge is a base64url SHA-256: exactly 43 characters. */
export const CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;
