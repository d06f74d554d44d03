// SPDX-License-Identifier: Apache-2.0 OR MIT
/** The client's version; the tests keep it equal to package.json's. */
export const VERSION = '0.1.0';
