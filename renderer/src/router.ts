import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router'
import { areas } from './areas'
import DashboardView from './views/DashboardView.vue'
import SettingsView from './views/SettingsView.vue'
import CertificatesView from './views/CertificatesView.vue'
import LedgerView from './views/LedgerView.vue'
import EmptyAreaView from './views/EmptyAreaView.vue'

const views: Record<string, RouteRecordRaw['component']> = {
  '/': DashboardView,
  '/certificates': CertificatesView,
  '/ledger': LedgerView,
  '/settings': SettingsView,
}

// Hash history: the same URLs work under app:// and in browser mode, with no server fallback.
export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    ...areas.map((area) => ({
      path: area.path,
      component: views[area.path] ?? EmptyAreaView,
      meta: { area },
    })),
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

router.afterEach((to) => {
  const area = to.meta.area as { title: string } | undefined
  document.title = area ? `${area.title} · Lethe` : 'Lethe'
})
