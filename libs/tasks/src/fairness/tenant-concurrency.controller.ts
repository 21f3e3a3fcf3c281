import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { DomainError } from '@conveyor/errors';
import { RequireScopes } from '@conveyor/http';
import { SetTenantConcurrencyDto, TenantConcurrencyView } from './tenant-concurrency.dto';
import { TenantConcurrencyService } from './tenant-concurrency.service';

/** Tenant ids as API keys spell them (see CreateApiKeyDto). */
const TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Per-tenant concurrency caps, changed at runtime (README "Fairness"). */
@Controller('v1/admin/tenants/:tenant/concurrency')
@RequireScopes('admin')
export class TenantConcurrencyController {
  constructor(private readonly caps: TenantConcurrencyService) {}

  @Get()
  @ApiResponse({ status: 200, type: TenantConcurrencyView, description: "The tenant's cap in force and its running tasks, per queue" })
  get(@Param('tenant') tenant: string): Promise<TenantConcurrencyView> {
    return this.caps.get(tenantId(tenant));
  }

  @Put()
  @ApiResponse({ status: 200, type: TenantConcurrencyView, description: 'Set in every queue; workers apply it to the next task they take' })
  set(@Param('tenant') tenant: string, @Body() body: SetTenantConcurrencyDto): Promise<TenantConcurrencyView> {
    return this.caps.set(tenantId(tenant), body.limit);
  }
}

function tenantId(raw: string): string {
  if (!TENANT_ID.test(raw)) {
    throw DomainError.invalid('VALIDATION_FAILED', 'tenant must be 1-64 lowercase letters, digits, "_" or "-"', [
      { field: 'tenant', message: 'invalid tenant id' },
    ]);
  }
  return raw;
}
