import { mount } from 'svelte';
import App from './App.svelte';
import './data-table.css';
import './layout.css';

mount(App, { target: document.getElementById('app')! });

// Offline use: the service worker precaches the build (only the production build has one).
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker.register('./sw.js').catch((e: unknown) => console.warn('offline support unavailable:', e));
}
