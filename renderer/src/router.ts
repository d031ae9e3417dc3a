import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router'
import { areas } from './areas'
import DashboardView from './views/DashboardView.vue'
import SettingsView from './views/SettingsView.vue'
import CertificatesView from './views/CertificatesView.vue'
import LedgerView from './views/LedgerView.vue'
import RequestsView from './views/RequestsView.vue'
import RequestDetailView from './views/RequestDetailView.vue'
import ModelsView from './views/ModelsView.vue'
import RunsView from './views/RunsView.vue'

const views: Record<string, NonNullable<RouteRecordRaw['component']>> = {
  '/': DashboardView,
  '/requests': RequestsView,
  '/models': ModelsView,
  '/runs': RunsView,
  '/certificates': CertificatesView,
  '/ledger': LedgerView,
  '/settings': SettingsView,
}
const requests = areas.find((area) => area.path === '/requests')

// Hash history: the same URLs work under app:// and in browser mode, with no server fallback.
export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    ...areas.map((area) => ({
      path: area.path,
      component: views[area.path] as NonNullable<RouteRecordRaw['component']>,
      meta: { area },
    })),
    // One request's detail lives in the Requests area.
    { path: '/requests/:id', component: RequestDetailView, props: true, meta: { area: requests } },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

router.afterEach((to) => {
  const area = to.meta.area as { title: string } | undefined
  document.title = area ? `${area.title} · Lethe` : 'Lethe'
})
